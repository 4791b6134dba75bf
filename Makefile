# weft — one plain Makefile.  make | make check | make bench | make fuzz | make install
CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
CSTD     = -std=c11 -D_GNU_SOURCE
WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
OPT     ?= -O2 -g
CFLAGS  += $(CSTD) $(WARN) $(OPT) -Isrc/lib -Isrc/server -Isrc/dp -MMD -MP
LDLIBS  += -lcrypto -lsqlite3

ifeq ($(SANITIZE),1)
BUILD    = build-san
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# The engine and the control plane's pure and storage modules; binaries'
# own sources live in their directories (src/wg, ...).
LIB_SRC  = $(wildcard src/lib/*.c src/server/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB      = $(BUILD)/libweft.a
DP_SRC   = $(wildcard src/dp/*.c)
DP_OBJ   = $(DP_SRC:%.c=$(BUILD)/%.o)
WG_SRC   = $(wildcard src/wg/*.c)
WG_OBJ   = $(WG_SRC:%.c=$(BUILD)/%.o)
AGENT_SRC = $(wildcard src/weftd/*.c)
AGENT_OBJ = $(AGENT_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  = $(wildcard src/weft/*.c)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
# The local-socket client (one JSON request, one answer) is shared with
# weft-server's admin CLI.
ADMIN_OBJ = $(addprefix $(BUILD)/src/weft-server/,admin.o log.o when.o)
$(CLI_OBJ) $(AGENT_OBJ): CFLAGS += -Isrc/weft-server
SRV_SRC  = $(wildcard src/weft-server/*.c)
SRV_OBJ  = $(SRV_SRC:%.c=$(BUILD)/%.o)
TEST_SRC = $(wildcard tests/unit/test_*.c)
TESTS    = $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC = $(wildcard tests/tools/*.c)
TOOLS    = $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
FUZZ_SRC = $(wildcard fuzz/fuzz_*.c)
# Measuring tools of bench/ (not part of weft).
BENCH_SRC = $(wildcard bench/*.c)
BENCH_TOOLS = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

BINS     = weft-wg weft-server weftd weft
# The sanitizer build stays in build-san/; only the normal one is copied up.
ifeq ($(SANITIZE),1)
TOP_BINS = $(BINS:%=$(BUILD)/%)
else
TOP_BINS = $(BINS)
endif

all: $(TOP_BINS) $(TESTS) $(TOOLS) $(BENCH_TOOLS)

weft-wg weft-server weftd weft: %: $(BUILD)/%
	cp $< $@

$(BUILD)/weft-wg: $(WG_OBJ) $(DP_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/weftd: $(AGENT_OBJ) $(DP_OBJ) $(ADMIN_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -ljson-c -lssl

$(BUILD)/weft: $(CLI_OBJ) $(ADMIN_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -ljson-c

$(BUILD)/weft-server: $(SRV_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -ljson-c -lssl

# Rebuilt whole: `ar r` on an old archive appends new members, and the
# member order decides the programs' code layout (one such layout made
# weftd's first contact slower: docs/first-packet-bench.md), so an
# incremental build links the same layout as a clean one.
$(LIB): $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tools/%: $(BUILD)/tests/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o
	$(CC) $(LDFLAGS) -o $@ $^

# The relay's TLS listener and its clients (the relay over port 443).
$(BUILD)/tools/relayload: LDLIBS += -lssl

# check: unit tests, then the network-namespace tests (root), one summary line.
check: all
	BUILD=$(BUILD) tests/run.sh

check-unit: all
	BUILD=$(BUILD) tests/run.sh unit

# fuzz: build every libFuzzer target with clang and run each one briefly.
FUZZ_TIME ?= 20
fuzz:
	@mkdir -p build-fuzz
	@set -e; for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  clang $(CSTD) -g -O1 -Isrc/lib -Isrc/server -fsanitize=fuzzer,address,undefined \
	    -o build-fuzz/$$n $$f $(LIB_SRC) -lcrypto -lsqlite3; done
	@set -e; for f in $(FUZZ_SRC); do n=$$(basename $$f .c); mkdir -p build-fuzz/corpus-$$n; \
	  echo "fuzz: $$n for $(FUZZ_TIME)s"; \
	  build-fuzz/$$n -max_total_time=$(FUZZ_TIME) -print_final_stats=0 build-fuzz/corpus-$$n fuzz/seeds/$$n 2>&1 | tail -n 2; done

bench: all
	r=0; bench/run.sh || r=1; bench/peers.sh || r=1; exit $$r

# The control plane's figures: LOOKUP rate with 1 000 and 100 000 nodes,
# and first packet to a fresh peer over 100 peers (root, namespaces).
bench-control: all
	bench/lookup.sh
	bench/first_packet.sh

# Issue 4's figures: the NAT matrix against the raw underlay, relayed
# against direct, the relay alone, first packet to a direct path (root).
bench-paths: all
	bench/paths.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build build-san build-fuzz weft-wg weft-server weftd weft

.PHONY: all check check-unit fuzz bench bench-control bench-paths install clean
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
