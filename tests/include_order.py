#!/usr/bin/env python3
"""Fails when a source file includes a folder at its own layer or above (docs/architecture.md).

Layers, bottom to top; a folder may include its own files and any folder of a lower layer:
  core -> io -> data -> augment, models -> train -> eval -> ssl, clip, diffusion -> the library root
  (src/selfsup/*.h, *.cpp: what registers the tasks) -> apps, tests, examples, bench.

Usage: include_order.py SOURCE_DIR
"""
import pathlib
import re
import sys

LAYERS = [["core"], ["io"], ["data"], ["augment", "models"], ["train"], ["eval"], ["ssl", "clip", "diffusion"], [""]]
LEVEL = {folder: i for i, group in enumerate(LAYERS) for folder in group}
TOP = len(LAYERS)  # apps, tests, examples, bench may include anything
INCLUDE = re.compile(r'^\s*#\s*include\s+"selfsup/([^"]+)"')


def folder_of(relative: str) -> str:
    """'ssl/methods/moco.h' -> 'ssl'; 'builtin.h' (library root) -> ''."""
    parts = relative.split("/")
    return parts[0] if len(parts) > 1 else ""


def main(root: pathlib.Path) -> int:
    errors = []
    library = root / "src" / "selfsup"
    files = [p for p in root.glob("src/selfsup/**/*") if p.suffix in (".h", ".cpp")]
    for path in sorted(files):
        own = folder_of(path.relative_to(library).as_posix())
        if own not in LEVEL:
            errors.append(f"{path.relative_to(root)}: folder '{own}' has no layer in tests/include_order.py")
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            target = folder_of(match.group(1))
            if target == own:
                continue
            if target not in LEVEL:
                errors.append(f"{path.relative_to(root)}:{number}: includes unknown folder '{target}'")
            elif LEVEL[target] >= LEVEL[own]:
                where = "the same layer" if LEVEL[target] == LEVEL[own] else "a higher layer"
                errors.append(f"{path.relative_to(root)}:{number}: {own or 'selfsup'}/ includes "
                              f"{target or 'selfsup'}/ ({where}): {line.strip()}")
    for error in errors:
        print(error)
    if errors:
        print(f"{len(errors)} include(s) break the layer order (see tests/include_order.py)")
        return 1
    print(f"include order: {len(files)} files checked, no include goes up or sideways")
    return 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
