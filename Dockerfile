# iris-lab: one image for the reference API (`serve`) and for distributed load workers
# (`load --workers N` runs `iris-lab worker` in each pod of an Indexed Job).
#
#   docker build -t iris-lab:0.1.0 .
#   docker run --rm -p 8000:8000 iris-lab:0.1.0            # serve on 0.0.0.0:8000

# Build stage: the release binary, with the locked dependencies.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin iris-lab \
 && install -D -m 0755 target/release/iris-lab /out/iris-lab

# Runtime stage: distroless (glibc, CA certificates, no shell), non-root.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/iris-lab /usr/local/bin/iris-lab
USER 65532:65532
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/iris-lab"]
CMD ["serve", "--addr", "0.0.0.0:8000"]
