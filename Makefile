# The two commands of the README: `make demo` and `make test`. Both install what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: deps build test unit sanitize-configure sanitize fuzz demo bench results clean

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
	./$(BUILD)/selfsup train recipes/simclr_v2_fmnist_demo.yaml --overwrite

# Instrumented builds (docs/reliability.md), in their own folder: clang with AddressSanitizer,
# UndefinedBehaviorSanitizer and libFuzzer's coverage hooks. `make sanitize` runs the unit tests
# there; `make fuzz` runs every fuzz target for FUZZ_SECONDS from its seeds and regressions.
# Not part of `make test`: the instrumented build takes several minutes more (.ci/run adds both).
SANITIZE_BUILD ?= build-sanitize
FUZZ_SECONDS ?= 60
sanitize-configure: deps
	@cmake -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS="-O1 -g" \
	  -DSELFSUP_SANITIZERS=address,undefined -DSELFSUP_FUZZ=ON "-DSELFSUP_UNIT_EXCLUDE=:*SentencePiece*:TokenizerErrors*:StreamTraining.Clip*" \
	  > $(SANITIZE_BUILD).configure.log 2>&1 || (cat $(SANITIZE_BUILD).configure.log; exit 1)

sanitize: sanitize-configure
	@cmake --build $(SANITIZE_BUILD) -j$(JOBS) --target unit

fuzz: sanitize-configure
	@cmake --build $(SANITIZE_BUILD) -j$(JOBS) --target fuzz_all
	fuzz/run.sh $(SANITIZE_BUILD) $(FUZZ_SECONDS)

# Long runs that fill docs/results.md (tens of minutes each on 2 cores).
results: build
	bench/fmnist_results.sh

clean:
	rm -rf $(BUILD) $(BUILD).configure.log $(SANITIZE_BUILD) $(SANITIZE_BUILD).configure.log
