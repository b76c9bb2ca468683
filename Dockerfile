# Roost: a static binary on a distroless-free scratch image.
#
#   docker build -t roost .
#   docker run -p 1883:1883 -v roost-data:/data roost
#
# The image runs as an unprivileged user (65532), keeps its store in the
# /data volume, and listens on every interface of the container with the
# config in /etc/roost/roost.yaml (mount your own over it to set up
# authentication and TLS). The health check is `roost ping`, which needs no
# credentials: any CONNACK proves the broker is up.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/roost ./cmd/roost \
 && mkdir -p /out/data /out/etc/roost \
 && printf 'listeners:\n  - type: tcp\n    address: ":1883"\nstorage:\n  dir: /data\n' > /out/etc/roost/roost.yaml

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /out/roost /usr/local/bin/roost
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/etc/roost /etc/roost
USER 65532:65532
VOLUME /data
EXPOSE 1883 8883 8083 8084
HEALTHCHECK --interval=30s --timeout=6s --start-period=10s CMD ["/usr/local/bin/roost", "ping", "-W", "5s"]
ENTRYPOINT ["/usr/local/bin/roost"]
CMD ["serve", "--config", "/etc/roost/roost.yaml"]
