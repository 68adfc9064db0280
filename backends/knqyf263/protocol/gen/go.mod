// The generator of backends/knqyf263/protocol's code, pinned here rather
// than in the repository's go.mod: protoc-gen-go-plugin v0.9.0 is built on
// vtprotobuf v0.4.0's generator, whose API vtprotobuf v0.6 changed, and
// the main module's grpc requires v0.6. RATIONALE.md, "Why does the
// knqyf263 generator have a go.mod of its own?".
module github.com/plugbench/plugbench/backends/knqyf263/protocol/gen

go 1.26.0

tool github.com/knqyf263/go-plugin/cmd/protoc-gen-go-plugin

require (
	github.com/knqyf263/go-plugin v0.9.0 // indirect
	github.com/planetscale/vtprotobuf v0.4.0 // indirect
	google.golang.org/protobuf v1.30.0 // indirect
)
