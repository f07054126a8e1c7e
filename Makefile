# Dreamcatcher — build, run and test.
#   make        builds bin/hekad, bin/whisperserver, … (and the web assets)
#   make run    builds, then runs hekad on hekad.toml.example and whisperserver
#   make test   runs every test (Go unit + end-to-end, fuzz smoke runs, browser tests)

GO       ?= go
FUZZTIME ?= 10s
# prepare-heka.sh touches this stamp whenever .build/heka is ready (its own
# .prepared-<version>-<patch sum> stamp says for which version and patches).
HEKA     := .build/heka/.prepared
# Fuzz targets run briefly by `make test`: package:FuzzName
FUZZ_TARGETS := ./plugins/carbon/plaintext:FuzzParseLine \
	./plugins/carbon/receiver:FuzzAppendLine ./plugins/carbon/receiver:FuzzValidName \
	./collectors/mongotop:FuzzParseLine ./collectors/mongotop:FuzzNamer \
	./plugins/whisper/schema:FuzzParseRetentions ./plugins/whisper/schema:FuzzParseConf \
	./internal/whisperfile:FuzzUpdate ./internal/whisperfile:FuzzReadHeader ./plugins/whisper/dump:FuzzRead \
	./plugins/statsd/protocol:FuzzParseLine ./plugins/statsd/protocol:FuzzSimpleLine \
	./whisperserver/render:FuzzParse ./whisperserver/attime:FuzzParse \
	./whisperserver/index:FuzzCompile ./whisperserver/index:FuzzTagExpr ./whisperserver/dashboards:FuzzParse ./internal/metricpath:FuzzParseTagged \
	./whisperserver/render:FuzzPyPercent \
	./whisperserver/graphiteapi:FuzzAppendJSONString ./whisperserver/alert:FuzzParseRules

.PHONY: all build heka web run test lint gotest fuzz webtest bench clean

all: build

heka: $(HEKA)
$(HEKA): scripts/prepare-heka.sh $(wildcard compat/heka-patches/*.patch)
	./scripts/prepare-heka.sh

web:
	@if [ -f package.json ]; then \
		[ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; \
		npm run --silent build; \
	fi

build: heka web
	$(GO) build -o bin/ ./cmd/...

run: build
	./scripts/run.sh

test: build lint gotest fuzz webtest
	@echo "make test: all tests passed"

lint: heka
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd compat/bbangert-toml && $(GO) vet ./...

gotest: heka
	cd compat/bbangert-toml && $(GO) test ./...
	$(GO) test -count=1 -timeout 20m ./...

fuzz: heka
	./scripts/fuzz.sh $(FUZZTIME) $(FUZZ_TARGETS)

webtest: build
	@if [ -f package.json ]; then npm test; fi

clean:
	rm -rf bin .build
