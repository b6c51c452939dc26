# The secure-build frontend image: a BuildKit gateway frontend that builds a
# Dockerfile, scans its final stage and applies the policy; also the scanner
# image of "docker secure build" and a generator for BuildKit's SBOM protocol.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     -t REGISTRY/secure-build/frontend:TAG --push .
#
# The build stage's image is pinned by digest. It runs on the build platform
# and cross-compiles for each target platform (TARGETOS/TARGETARCH), so an
# amd64 builder makes the arm64 image without emulation. The final stage is
# scratch and runs nothing: the static binary, run as a non-root user.
ARG GO_IMAGE=golang:1.26@sha256:9edf71320ef8a791c4c33ec79f90496d641f306a91fb112d3d060d5c1cee4e20

FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY . .
# The module and build caches persist between builds on one builder; go
# build fetches only the modules the frontend needs.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
      -ldflags "-s -w -X main.Version=$VERSION" \
      -o /out/secure-build-frontend ./cmd/secure-build-frontend

FROM scratch
COPY --from=build /out/secure-build-frontend /bin/secure-build-frontend
# The Dockerfile frontend's capabilities (BuildKit v0.34), so that clients
# send named contexts, inputs and subrequests; and no network for the
# frontend itself: it reads nothing from the internet.
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts,moby.buildkit.frontend.gitquerystring,moby.buildkit.frontend.contexts.zstd" \
      moby.buildkit.frontend.network.none="true" \
      org.opencontainers.image.title="secure-build frontend" \
      org.opencontainers.image.source="https://github.com/secure-build/secure-build"
USER 65532:65532
ENTRYPOINT ["/bin/secure-build-frontend"]
