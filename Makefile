# The appliance's commands. `make run` and `make test` are the whole quick start on a fresh Debian 12 (root):
# missing native packages are installed with apt-get first.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
OUT ?= var/recordings
STATE ?= var/state
SAMPLE ?= samples/sipp-g711a-call.pcap
APP = $(DOTNET) run --no-build -c $(CONFIG) --project src/Appliance --

# Runtime libraries we bind (libpcap, libopus, spandsp for G.722, bcg729 for G.729), and the tools tests and
# benchmarks use as real peers and oracles (opusdec decodes recordings, SIPp places calls, tcpdump is the
# replay baseline, iproute2 builds the network namespaces).
RUNTIME_PACKAGES = libpcap0.8 libopus0 libspandsp2 libbcg729-0
TEST_PACKAGES = opus-tools sip-tester tcpdump iproute2

.PHONY: run test build deps deps-test bench replay capture clean

deps:
	@scripts/ensure-packages.sh $(RUNTIME_PACKAGES)

deps-test:
	@scripts/ensure-packages.sh $(RUNTIME_PACKAGES) $(TEST_PACKAGES)

build: deps
	$(DOTNET) build Appliance.sln -c $(CONFIG) --nologo -v quiet

# For now `run` replays the bundled sample (a real SIPp call recorded on loopback) into ./var/recordings, keeping
# the directory (what it learned about phones and logins) in ./var/state. DIRECTORY=file.json adds a configuration.
DIRECTORY_ARGS = --state $(STATE) $(if $(DIRECTORY),--config $(DIRECTORY))
run: build
	$(APP) replay $(SAMPLE) --out $(OUT) $(DIRECTORY_ARGS)

replay: build
	@test -n "$(FILE)" || { echo "usage: make replay FILE=capture.pcap [OUT=dir]"; exit 2; }
	$(APP) replay $(FILE) --out $(OUT) $(DIRECTORY_ARGS) $(ARGS)

capture: build
	@test -n "$(IFACE)" || { echo "usage: make capture IFACE=eth1 [OUT=dir]"; exit 2; }
	$(APP) capture --interface $(IFACE) --out $(OUT) $(DIRECTORY_ARGS) $(ARGS)

test: deps-test
	$(DOTNET) build Appliance.sln -c $(CONFIG) --nologo -v quiet
	@scripts/run-tests.sh $(CONFIG)

# All benchmarks, or a subset: make bench FILTER='*Sip*'
bench: deps-test
	$(DOTNET) run -c $(CONFIG) --project bench -- --filter '$(or $(FILTER),*)'

clean:
	rm -rf var out BenchmarkDotNet.Artifacts
	$(DOTNET) clean Appliance.sln -v quiet
