# The appliance's commands. `make run` and `make test` are the whole quick start on a fresh Debian 12 (root):
# missing native packages are installed with apt-get first.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
OUT ?= var/recordings
STATE ?= var/state
SAMPLE ?= samples/sipp-g711a-call.pcap
APP = $(DOTNET) run --no-build -c $(CONFIG) --project src/Appliance --
# The built apphost itself (not `dotnet run`, which wraps it in a second process): signals reach the service directly.
APPHOST = src/Appliance/bin/$(CONFIG)/net10.0/appliance
LISTEN ?= http://127.0.0.1:8080
# make install: DESTDIR stages into another root (packaging, tests); PREFIX is where the program goes.
PREFIX ?= /opt/appliance
SYSCONFDIR ?= /etc
UNITDIR ?= $(SYSCONFDIR)/systemd/system
PUBLISH_DIR ?= out/publish

# Runtime libraries we bind (libpcap, libopus, spandsp for G.722, bcg729 for G.729), and the tools tests and
# benchmarks use as real peers and oracles (opusdec decodes recordings, SIPp places calls, tcpdump is the
# replay baseline and records the live rig, tshark summarises its captures, iproute2 builds the network namespaces,
# python3 probes them, procps: sysctl and kill; ffmpeg: a second Opus decoder (libavcodec, not libopus) recordings must play in; afl++: afl-fuzz for `make fuzz-afl`, whose ToolchainTests check needs it present;
# kamailio and rtpengine-daemon: the registrar/proxy and the media relay of the topology rig, tests/live/topology.sh; chromium: the headless browser of the web app's tests, tests/Appliance.Tests/Web). tshark's debconf question (wireshark-common/install-setuid) keeps
# its default, no: ensure-packages.sh installs non-interactively. tests/Appliance.Tests/Service/ToolchainTests.cs
# checks that these lists provide every program a test, a script or a make target runs. mount: mount/umount of the small tmpfs of the disk-full and retention tests.
RUNTIME_PACKAGES = libpcap0.8 libopus0 libspandsp2 libbcg729-0
TEST_PACKAGES = opus-tools ffmpeg sip-tester tcpdump tshark iproute2 python3-minimal python3 procps systemd afl++ kamailio rtpengine-daemon kamailio-websocket-modules time wireshark-common tcpreplay chromium firefox-esr pulseaudio mount postgresql-15 nftables
# make install creates the service account with systemd-sysusers (also where systemd is not PID 1, e.g. containers).
INSTALL_PACKAGES = systemd

.PHONY: run test build deps deps-test bench bench-load bench-live replay capture clean publish install install-files uninstall fuzz fuzz-afl fuzz-campaign

deps:
	@scripts/ensure-packages.sh $(RUNTIME_PACKAGES)

# Debian starts kamailio (on every address's port 5060) and rtpengine as services where systemd runs: the tests start
# their own, in a namespace, and need the ports free.
deps-test:
	@scripts/ensure-packages.sh $(RUNTIME_PACKAGES) $(TEST_PACKAGES)
	@if [ -d /run/systemd/system ]; then for s in kamailio rtpengine-daemon; do \
		if systemctl is-enabled --quiet $$s 2>/dev/null; then systemctl disable --now $$s; fi; done; fi

build: deps
	$(DOTNET) build Appliance.sln -c $(CONFIG) --nologo -v quiet

# `run` starts the service (`appliance run`) in the foreground on its embedded defaults: no /etc settings file, the
# bundled sample (a real SIPp call recorded on loopback) replayed as if live, recordings in ./var/recordings, the
# directory in ./var/state, the API on 127.0.0.1:8080. DIRECTORY=file.json adds a directory configuration.
DIRECTORY_ARGS = --state $(STATE) $(if $(DIRECTORY),--config $(DIRECTORY))
run: build
	@echo "appliance: API on $(LISTEN) (GET /healthz, /readyz; /metrics in Prometheus format), replaying $(SAMPLE) as if live"
	@echo "appliance: recordings under $(abspath $(OUT)), directory state in $(abspath $(STATE)) (API bearer token: $(abspath $(STATE))/api-token); Ctrl+C (SIGINT) stops it cleanly"
	$(APPHOST) run --settings none --recordings $(OUT) --state $(STATE) --listen $(LISTEN) $(if $(DIRECTORY),--config $(DIRECTORY)) $(ARGS)

replay: build
	@test -n "$(FILE)" || { echo "usage: make replay FILE=capture.pcap [OUT=dir]"; exit 2; }
	$(APP) replay $(FILE) --out $(OUT) $(DIRECTORY_ARGS) $(ARGS)

capture: build
	@test -n "$(IFACE)" || { echo "usage: make capture IFACE=eth1 [OUT=dir]"; exit 2; }
	$(APP) capture --interface $(IFACE) --out $(OUT) $(DIRECTORY_ARGS) $(ARGS)

test: deps-test garnet
	$(DOTNET) build Appliance.sln -c $(CONFIG) --nologo -v quiet
	@scripts/run-tests.sh $(CONFIG)

# Garnet, the Redis-protocol server the cluster tests start (README "Cluster"): the dotnet tool from NuGet, installed once
# into out/garnet (tests/Appliance.Tests/Cluster find it there, and say so and return when it is missing).
GARNET_VERSION ?= 2.2.12
.PHONY: garnet
garnet: out/garnet/garnet-server
out/garnet/garnet-server:
	$(DOTNET) tool install garnet-server --tool-path out/garnet --version $(GARNET_VERSION)

# All benchmarks, or a subset: make bench FILTER='*Sip*'
bench: deps-test
	$(DOTNET) run -c $(CONFIG) --project bench -- --filter '$(or $(FILTER),*)'

# The load benchmark (README "Performance"): CALLS real SIPp calls over loopback recorded once into out/load/, replayed
# by the appliance against bare libopus on the same audio; ends with `ratio <ours/bare> calls per core <N>`. Needs root.
bench-load: deps-test
	$(DOTNET) build Appliance.sln -c $(CONFIG) --nologo -v quiet
	bench/load/run-load.sh $(or $(CALLS),600) $(or $(RATE),10) $(or $(WORKERS),1) $(or $(TURNS),0)

# Speech quality against encoder CPU (README "Performance"): every complexity and bitrate of our writer scored with ITU-T
# P.862 narrowband PESQ on real G.711 speech; prints the table and the cheapest setting within 0.1 MOS of the best.
# PESQ=/path/to/scorer names the P.862 program (not bundled: bench/quality/score.sh says how to provide one).
.PHONY: bench-quality
bench-quality: deps-test
	$(DOTNET) build Appliance.sln -c $(CONFIG) --nologo -v quiet
	bench/quality/score.sh

# The live replay (README "Performance"): the load capture sent by tcpreplay over a veth pair into `appliance run` at each
# of RATES packets/s with each worker count of WORKERS, REPEAT times; ends with the highest rate without loss. Needs root.
bench-live: deps-test
	$(DOTNET) build Appliance.sln -c $(CONFIG) --nologo -v quiet
	RATES='$(or $(RATES),5000 10000 15000 20000 30000 40000)' WORKERS_LIST='$(or $(WORKERS),1 2)' REPEAT=$(or $(REPEAT),2) NICE=$(or $(NICE),0) bench/load/live-replay.sh search

# Fuzzing (README "Fuzzing"): `make fuzz` lists the targets; `make fuzz TARGET=sip SECONDS=60` runs one (or all) with the
# in-process coverage-guided driver on an instrumented copy in out/fuzz; REPRO=file replays a saved input instead.
# `make fuzz-afl TARGET=sip SECONDS=60` runs afl-fuzz on it; `make fuzz-campaign MINUTES=50` is the long run README reports.
fuzz: deps-test
	@if [ -n "$(REPRO)" ]; then test -n "$(TARGET)" || { echo "usage: make fuzz TARGET=name REPRO=file"; exit 2; }; scripts/fuzz.sh repro $(TARGET) $(REPRO); \
	elif [ -z "$(TARGET)" ]; then scripts/fuzz.sh build && echo "targets (make fuzz TARGET=name|all SECONDS=n):" && scripts/fuzz.sh list; \
	else scripts/fuzz.sh run $(TARGET) $(or $(SECONDS),60); fi

fuzz-afl: deps-test
	@test -n "$(TARGET)" || { echo "usage: make fuzz-afl TARGET=name [SECONDS=n]"; exit 2; }
	scripts/fuzz.sh afl $(TARGET) $(or $(SECONDS),60)

fuzz-campaign: deps-test
	scripts/fuzz-campaign.sh $(or $(MINUTES),50)

# The release build as it is installed (framework-dependent: needs the ASP.NET Core 10 runtime in /usr/share/dotnet).
publish: deps
	$(DOTNET) publish src/Appliance -c Release -o $(PUBLISH_DIR) --nologo -v quiet

# Installs to PREFIX with the systemd unit, sysusers/tmpfiles entries, a default /etc/appliance/appliance.json and a
# generated API token (neither overwritten when present), then daemon-reload when systemd runs this system.
install: publish
	@scripts/ensure-packages.sh $(INSTALL_PACKAGES)
	@$(MAKE) --no-print-directory install-files

# The file-laying part of install, from an existing PUBLISH_DIR.
install-files:
	@PUBLISH_DIR=$(PUBLISH_DIR) DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) SYSCONFDIR=$(SYSCONFDIR) UNITDIR=$(UNITDIR) scripts/install.sh

# Removes the program and the unit; keeps settings, token, recordings, state and the user (remove those by hand).
uninstall:
	-@[ -n "$(DESTDIR)" ] || ! [ -d /run/systemd/system ] || systemctl disable --now appliance
	rm -rf $(DESTDIR)$(PREFIX)
	rm -f $(DESTDIR)$(UNITDIR)/appliance.service $(DESTDIR)$(SYSCONFDIR)/sysusers.d/appliance.conf $(DESTDIR)$(SYSCONFDIR)/tmpfiles.d/appliance.conf
	-@[ -n "$(DESTDIR)" ] || ! [ -d /run/systemd/system ] || systemctl daemon-reload
	@echo "uninstall: kept $(SYSCONFDIR)/appliance, /var/lib/appliance, /var/log/appliance and the user appliance"

clean:
	rm -rf var out BenchmarkDotNet.Artifacts
	$(DOTNET) clean Appliance.sln -v quiet
