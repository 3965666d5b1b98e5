module github.com/firewarden/firewarden

go 1.26.0

require (
	github.com/google/go-cmp v0.7.0
	github.com/google/nftables v0.3.0
	github.com/klauspost/compress v1.20.3
	github.com/mdlayher/netlink v1.7.3-0.20250113171957-fbb4dce95f42
	go.yaml.in/yaml/v4 v4.0.0
	golang.org/x/sync v0.6.0
	golang.org/x/sys v0.28.0
	howett.net/plist v1.0.1
)

require (
	github.com/mdlayher/socket v0.5.0 // indirect
	golang.org/x/net v0.33.0 // indirect
)
