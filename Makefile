# Plain entry points; the scripts under scripts/ do the same for a fresh machine.
export GOFLAGS := -buildvcs=false
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The scanner image "docker secure build" falls back to when the builder cannot
# run the plugin's own binary (a Mac building for Linux): the frontend image.
SCANNER_IMAGE ?= ghcr.io/secure-build/frontend:$(VERSION)
LDFLAGS := -s -w -X github.com/secure-build/secure-build/plugin.Version=$(VERSION) \
	-X github.com/secure-build/secure-build/plugin.ScannerImage=$(SCANNER_IMAGE)
# scripts/build.sh adds the version and the scan step's digest itself.
SCANNER_LDFLAGS := -X github.com/secure-build/secure-build/plugin.ScannerImage=$(SCANNER_IMAGE)
PLUGIN_DIR ?= $(or $(DOCKER_CONFIG),$(HOME)/.docker)/cli-plugins
RELEASE_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
# The frontend image, one index for the platforms CI runners use; the
# Dockerfile cross-compiles, so no emulation is needed.
FRONTEND_IMAGE ?= $(SCANNER_IMAGE)
FRONTEND_PLATFORMS ?= linux/amd64,linux/arm64

.PHONY: build install release frontend-image test demo
# The plugin and, beside it, the scan step binary it sends builders.
build:
	./scripts/build.sh bin "$(VERSION)" $(SCANNER_LDFLAGS)

install: build
	mkdir -p $(PLUGIN_DIR)
	install -m 0755 bin/secure-build-scan $(PLUGIN_DIR)/secure-build-scan
	install -m 0755 bin/docker-secure $(PLUGIN_DIR)/docker-secure

release:
	@for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "bin/release/docker-secure-$$os-$$arch$$ext"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -ldflags '$(LDFLAGS)' \
			-o bin/release/docker-secure-$$os-$$arch$$ext ./cmd/docker-secure || exit 1; \
	done

frontend-image:
	docker buildx build --platform $(FRONTEND_PLATFORMS) --build-arg VERSION=$(VERSION) \
		-t $(FRONTEND_IMAGE) --push .

test:
	./scripts/test.sh

demo:
	./scripts/demo.sh
