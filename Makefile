# ttyfleet.serial_console: the two commands a user needs are `make demo` and `make test`.
# Every target installs what it needs (scripts/bootstrap.sh: apt packages, the venv, libvirtd).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ROOT := $(abspath .)
VENV ?= $(ROOT)/.venv
# ansible-test lists files with git when the tree is inside a git checkout, and would see nothing of an ignored
# build/ there: the collection tree is assembled outside the checkout.
BUILD ?= /var/tmp/ttyfleet-build-$(shell printf %s '$(ROOT)' | md5sum | cut -c1-8)
COLL := $(BUILD)/ansible_collections/ttyfleet/serial_console
PY := $(VENV)/bin/python
export VIRTUAL_ENV := $(VENV)
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(BUILD)
export ANSIBLE_PYTHON_INTERPRETER := $(PY)
export ANSIBLE_FORCE_COLOR ?= 0
export PYTHONDONTWRITEBYTECODE := 1
# In `make test`: default (bookworm with memtest86+ on ttyS0, bullseye on the virtio console hvc0), fleet
# (rollout/audit/doctor, bookworm + sysvinit, console logs) and platforms (UEFI ttyS0 + trixie ttyS1). Measured
# 2026-12-01 in the two lanes below from a fresh clone: default 940 s, fleet 1,435 s, platforms 938 s beside the other
# lane (534, 639, 667 s alone): 3,486 s in all. So these run on request only, to stay under 60 minutes on 2 cores:
# sdboot (systemd-boot: the GRUB part refused, the getty proven; ~10 min), sysvinit (its guest is booted in fleet
# too), cloud (cloud image, hvc0; ~15 min) and arm64 (PL011 ttyAMA0 under TCG; 22 min). Run them with:
#   make molecule MOLECULE_SCENARIOS="sdboot sysvinit cloud arm64"
MOLECULE_OPTIONAL_SCENARIOS ?= sdboot sysvinit cloud arm64
MOLECULE_SCENARIOS ?= $(filter-out $(MOLECULE_OPTIONAL_SCENARIOS),$(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))

# Whatever boots a guest, restarts libvirtd or re-executes virtlogd runs under this lock, one at a time: each
# molecule scenario (below), the console_logging and fault_injection integration targets (they take it themselves).
# flock -o: the lock stays with flock itself, not with a daemon or an ssh ControlPersist master the command starts.
BOOT_LOCK := /var/lock/ttyfleet-boot
BOOT_LOCKED = $(if $(TTYFLEET_BOOT_LOCKED),,flock -o $(BOOT_LOCK))
.PHONY: prove-failure help build-dir bootstrap sync sanity units integration lint galaxy-install-test molecule test demo demo-clean bench images
.PHONY: changelog changelog-lint importer docs docs-lint ee matrix

help:
	@echo "make demo        build a lab of stock guests, roll serial consoles out, show their login: prompts"
	@echo "make demo-clean  remove the lab"
	@echo "make test        every test: sanity, unit, integration (real libvirtd), lint, build/install, Molecule"
	@echo "make bench       benchmarks (not tests): see bench/README.md"

bootstrap:
	@bash scripts/bootstrap.sh all

# ansible-test needs the checkout at ansible_collections/<namespace>/<name>.
sync: $(if $(TTYFLEET_BOOTSTRAPPED),,bootstrap)
	@mkdir -p $(COLL)
	@rsync -a --delete --exclude .venv --exclude build --exclude .git --exclude tests/output \
	  --exclude .pytest_cache --exclude .ruff_cache --exclude bench/results ./ $(COLL)/

sanity: sync
	cd $(COLL) && ansible-test sanity --venv --python 3.11 --color no

units: sync
	cd $(COLL) && PYTHONPATH=$(BUILD) $(PY) -m pytest -q -p no:cacheprovider tests/unit

integration: sync
	cd $(COLL) && ansible-test integration --local --python 3.11 --color no --allow-destructive $(INTEGRATION_TARGETS)

lint: sync
	ruff check .
	cd $(COLL) && ansible-lint --offline -q

galaxy-install-test: sync
	BUILD=$(BUILD) bash tests/galaxy/build_install_test.sh

# The ecosystem's own checks. Their heavy tools live in venvs of their own under TOOLS (scripts/tool-venv.sh).
export TOOLS ?= /var/cache/ttyfleet/tools
# antsibull-changelog lint, and a scratch release of galaxy.yml's version that lists every module/role/playbook
changelog-lint: sync
	COLL=$(COLL) bash tests/changelog/changelog.sh check
# write CHANGELOG.rst/.md: the next release as it would be cut today (the real release: CONTRIBUTING.md)
changelog: sync
	COLL=$(COLL) bash tests/changelog/changelog.sh generate
# Galaxy's importer on the built tarball (its ansible-test step off: no container engine)
importer: sync
	BUILD=$(BUILD) bash tests/galaxy/importer.sh
docs-lint: sync
	BUILD=$(BUILD) bash tests/docs/docs.sh lint
# the docs site in $(BUILD)/docs-site/build/html; headless Chromium checks the domain_serial page
docs: sync
	BUILD=$(BUILD) bash tests/docs/docs.sh build
# the execution environment's build context (ansible-builder; building the image needs a container engine)
ee: sync
	BUILD=$(BUILD) bash tests/ee/ee.sh
# sanity (the version-dependent tests), units and the Galaxy install test on ansible-core 2.16, 2.17, 2.18
matrix: sync
	BUILD=$(BUILD) bash tests/matrix/matrix.sh $(MATRIX)

# Each scenario boots real guests from the cached stock images (scripts/build-image.sh, called by create).
molecule: sync
	@for s in $(MOLECULE_SCENARIOS); do \
	  echo "=== molecule test -s $$s"; t=$$SECONDS; \
	  $(if $(TTYFLEET_BOOT_LOCKED),,flock -n $(BOOT_LOCK) true || echo "=== waiting for the boot lock $(BOOT_LOCK)";) \
	  (cd $(COLL) && $(BOOT_LOCKED) molecule test -s $$s) || exit 1; \
	  echo "=== molecule test -s $$s: passed in $$((SECONDS - t)) s"; \
	done

# Two lanes at once, one per core. The boot lane: console_logging's integration target, then every scenario in
# MOLECULE_SCENARIOS (TCG guests, under the boot lock), its lines prefixed `[boot]`. The other lane: every other
# step, the other integration targets included (fault_injection waits for the boot lock to restart libvirtd).
# Each lane assembles its own collection tree, so that one lane's sync never rewrites what the other runs from.
# Every step runs even when an earlier one failed, so one run shows every failure; the exit status is non-zero
# if any step failed.
BOOT_BUILD ?= $(BUILD)-boot
BOOT_LANE_TARGETS := console_logging
INTEGRATION_ALL := $(notdir $(wildcard tests/integration/targets/*))
TEST_STEPS := sanity units integration lint galaxy-install-test
TEST_STEPS += changelog-lint importer docs-lint docs ee matrix
test: bootstrap
	@export TTYFLEET_BOOTSTRAPPED=1; total=$$SECONDS; failed_file=$$(mktemp); \
	( failed=""; \
	  for t in integration molecule; do \
	    echo "=== make $$t"; start=$$SECONDS; \
	    $(MAKE) --no-print-directory $$t BUILD=$(BOOT_BUILD) INTEGRATION_TARGETS="$(BOOT_LANE_TARGETS)" \
	      || failed="$$failed boot:$$t"; \
	    echo "=== make $$t: $$((SECONDS - start)) s"; \
	  done; \
	  echo "=== boot lane: $$((SECONDS - total)) s"; \
	  echo "$$failed" >"$$failed_file" ) 2>&1 | sed -u 's/^/[boot] /' & boot=$$!; \
	failed=""; \
	for t in $(TEST_STEPS); do \
	  echo "=== make $$t"; start=$$SECONDS; \
	  $(MAKE) --no-print-directory $$t \
	    INTEGRATION_TARGETS="$(filter-out $(BOOT_LANE_TARGETS),$(INTEGRATION_ALL))" || failed="$$failed $$t"; \
	  echo "=== make $$t: $$((SECONDS - start)) s"; \
	done; \
	echo "=== other lane: $$((SECONDS - total)) s (waiting for the boot lane)"; \
	wait $$boot || true; \
	failed="$$failed$$(cat "$$failed_file")"; rm -f "$$failed_file"; \
	echo "=== make test: $$((SECONDS - total)) s"; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi; \
	echo "make test: all green"

# Stock guest images (cached under /var/cache/ttyfleet; a second run takes seconds). IMAGES=bookworm picks some.
# Break converged guests on purpose and require verify to fail naming what is missing (about 10 minutes).
prove-failure: sync
	COLL=$(COLL) bash tests/molecule/prove_failure.sh

images: bootstrap
	bash scripts/build-image.sh $(IMAGES)

demo: sync
	bash scripts/demo.sh

demo-clean: bootstrap
	bash scripts/demo.sh clean

bench: sync
	BUILD=$(BUILD) bash bench/run.sh
	$(PY) bench/bench_fleet.py --collections-path $(BUILD)

# Where the collection tree is assembled (for running molecule or ansible-test by hand).
build-dir:
	@echo $(COLL)
