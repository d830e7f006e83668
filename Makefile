# mxsec: `make run` and `make test` do all the set-up on a fresh Debian 12.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
WERROR     ?= ON
ARGS       ?= serve
FUZZ_SECONDS ?= 60

.PHONY: all deps configure build run test test-unit test-integration test-asan bench fuzz clean

all: build

deps:
	./scripts/install-deps

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DMXSEC_WERROR=$(WERROR)

configure: deps $(BUILD)/build.ninja

build: configure
	ninja -C $(BUILD)

# The main job: the policy daemon on loopback with the embedded defaults
# (cache under ./var). Any other command: make run ARGS="policy example.com".
run: build
	mkdir -p var
	./$(BUILD)/mxsec --data-dir var $(ARGS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure

test-unit: build
	ctest --test-dir $(BUILD) --output-on-failure -L unit

test-integration: build
	ctest --test-dir $(BUILD) --output-on-failure -L integration

# Unit tests under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DMXSEC_WERROR=$(WERROR) -DMXSEC_SANITIZE=ON -DMXSEC_BENCH=OFF \
	  -DCMAKE_BUILD_TYPE=Debug
	ninja -C $(ASAN_BUILD) mxsec_tests mxsec
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir $(ASAN_BUILD) \
	  --output-on-failure -L unit

bench: build
	./bench/run $(BUILD)

fuzz: deps
	CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DMXSEC_FUZZ=ON -DMXSEC_TESTS=OFF -DMXSEC_BENCH=OFF
	ninja -C $(FUZZ_BUILD) fuzz_record fuzz_policy fuzz_cache_entry fuzz_netstring fuzz_tlsrpt_record fuzz_tlsa fuzz_smtp_reply fuzz_policylist
	for t in record policy cache_entry netstring tlsrpt_record tlsa smtp_reply policylist; do \
	  mkdir -p $(FUZZ_BUILD)/corpus-$$t; \
	  ./$(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) $(FUZZ_BUILD)/corpus-$$t fuzz/corpus/$$t || exit 1; \
	done

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
