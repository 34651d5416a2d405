# The two commands of the README: `make demo` and `make test`. Both install what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: deps build test unit demo bench results clean

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

# Long runs that fill docs/results.md (tens of minutes each on 2 cores).
results: build
	bench/fmnist_results.sh

clean:
	rm -rf $(BUILD) $(BUILD).configure.log
