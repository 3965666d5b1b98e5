# firewarden's build entry points. Go's own commands do everything else (go build, go test).

.PHONY: release
# release builds every platform's tarball, the Linux .deb and .rpm packages and SHA256SUMS
# into dist/ from the committed tree (see tools/release).
release:
	rm -rf dist
	go run ./tools/release -out dist
