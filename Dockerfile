# certsmith: one static-enough binary on a distroless base, running as a non-root user.
# Build: docker build -t certsmith:0.1.0 .   (CI builds the same binary with the same command.)

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The release binary the README documents: LTO, one codegen unit, stripped (see Cargo.toml).
RUN cargo build --release --locked --bin certsmith

# glibc and libgcc for aws-lc (the crypto provider); nothing else: no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/certsmith /usr/local/bin/certsmith
USER 65532:65532
EXPOSE 8089 9402
ENTRYPOINT ["/usr/local/bin/certsmith"]
CMD ["run"]
