module github.com/firewarden/firewarden

go 1.26.0

require (
	github.com/google/go-cmp v0.7.0
	go.yaml.in/yaml/v4 v4.0.0
	howett.net/plist v1.0.1
)

require github.com/klauspost/compress v1.20.3 // indirect
