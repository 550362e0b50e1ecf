# The manager image: a static binary on distroless, run as a non-root user.
# Build where a Docker engine runs: make docker-build IMG=…
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
WORKDIR /workspace
# Dependencies first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY main.go main.go
COPY api/ api/
COPY controllers/ controllers/
COPY internal/ internal/
# No cgo: the binary must run on distroless/static, which has no libc.
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags='-s -w' -o manager .

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager .
# Numeric, so the kubelet can check runAsNonRoot without /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/manager"]
