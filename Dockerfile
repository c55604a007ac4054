# syntax=docker/dockerfile:1
#
# The operator's image for those who build with Docker: a static manager
# binary on distroless, running as the nonroot user. Build it with
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t IMAGE .
#
# and deploy it with  make deploy IMG=IMAGE. Releases are built without
# Docker, reproducibly, by `make release` (hack/release); `make image` builds
# the same image for a trial.

# The builder runs on the build machine's platform and cross-compiles for the
# target's (buildx sets TARGETOS/TARGETARCH), so multi-arch builds need no
# emulation.
FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
# VERSION is stamped into internal/version, which --version prints and the
# manager logs and sends in its User-Agent.
ARG VERSION=dev
# Build with the Go in this image, never a toolchain downloaded because go.mod
# asks for a newer one: bump the image instead.
ENV GOTOOLCHAIN=local

WORKDIR /workspace
# Modules first, in their own layer, so a source change does not download
# them again; the cache mount keeps them across builds too.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

# Only what the manager is built from (see .dockerignore).
COPY main.go ./
COPY api/ api/
COPY controllers/ controllers/
COPY internal/ internal/

RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w -X github.com/twilio-operator/voice-operator/internal/version.version=${VERSION}" -o /out/manager .

# distroless/static: no shell, no package manager, CA certificates included
# (the manager calls https://voice.twilio.com).
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
