# The two commands of the README: `make demo` and `make test`. Both install what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: deps build test unit sanitize demo bench results clean

deps:
	@scripts/setup-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release > $(BUILD).configure.log 2>&1 || (cat $(BUILD).configure.log; exit 1)
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The fast loop while developing: the unit-labelled tests only (no training runs, no CLI), in one
# process; `ctest -L unit` runs the same tests one process each.
unit: build
	@cmake --build $(BUILD) --target unit

demo: build
	./$(BUILD)/selfsup train recipes/moco_v2_fmnist_demo.yaml --overwrite

# The unit tests under AddressSanitizer + UndefinedBehaviorSanitizer, in their own build folder
# (docs/reliability.md). Not part of `make test`: the instrumented build takes several minutes more.
SANITIZE_BUILD ?= build-sanitize
SANITIZE_FLAGS = -O1 -fsanitize=address,undefined -fno-sanitize=vptr -fno-omit-frame-pointer -fno-sanitize-recover=undefined
sanitize: deps
	@cmake -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="$(SANITIZE_FLAGS)" \
	  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" "-DSELFSUP_UNIT_EXCLUDE=:*SentencePiece*:TokenizerErrors*" \
	  > $(SANITIZE_BUILD).configure.log 2>&1 || (cat $(SANITIZE_BUILD).configure.log; exit 1)
	@cmake --build $(SANITIZE_BUILD) -j$(JOBS) --target unit

# Long runs that fill docs/results.md (tens of minutes each on 2 cores).
results: build
	bench/fmnist_results.sh

clean:
	rm -rf $(BUILD) $(BUILD).configure.log $(SANITIZE_BUILD) $(SANITIZE_BUILD).configure.log
