module github.com/dreamcatcher-monitoring/dreamcatcher

go 1.26

replace (
	// Heka v0.10.0 imports a TOML fork that no module proxy serves; the
	// project's compat module implements its API on BurntSushi/toml.
	github.com/bbangert/toml => ./compat/bbangert-toml
	// Heka's module lacks its generated message-matcher parser;
	// scripts/prepare-heka.sh builds a complete copy in .build/heka.
	github.com/mozilla-services/heka => ./.build/heka
)

require (
	github.com/bbangert/toml v0.0.0
	github.com/mozilla-services/heka v0.10.0
)

require (
	github.com/BurntSushi/toml v1.6.0 // indirect
	github.com/cactus/gostrftime v1.1.1 // indirect
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/google/uuid v1.0.0 // indirect
	github.com/pborman/uuid v1.2.1 // indirect
	github.com/rafrombrc/go-notify v0.0.0-20130215201805-e3ddb616eea9 // indirect
)
