module github.com/dreamcatcher-monitoring/dreamcatcher

go 1.26.0

replace (
	// Heka v0.10.0 imports a TOML fork that no module proxy serves; the
	// project's compat module implements its API on BurntSushi/toml.
	github.com/bbangert/toml => ./compat/bbangert-toml
	// Heka's module lacks its generated message-matcher parser;
	// scripts/prepare-heka.sh builds a complete copy in .build/heka.
	github.com/mozilla-services/heka => ./.build/heka
)

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/bbangert/toml v0.0.0
	github.com/fsnotify/fsnotify v1.10.1
	github.com/gorilla/mux v1.8.1
	github.com/kisielk/og-rek v1.3.0
	github.com/lomik/go-whisper v0.0.0-20170919072952-744ab80ef70d
	github.com/mozilla-services/heka v0.10.0
	github.com/pborman/uuid v1.2.1
	github.com/shirou/gopsutil/v4 v4.26.10
	golang.org/x/sys v0.48.0
)

require (
	github.com/aristanetworks/gomap v0.0.0-20230726210543-f4e41046dced // indirect
	github.com/cactus/gostrftime v1.1.1 // indirect
	github.com/ebitengine/purego v0.11.2 // indirect
	github.com/go-ole/go-ole v1.2.6 // indirect
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/google/uuid v1.0.0 // indirect
	github.com/lufia/plan9stats v0.0.0-20211012122336-39d0f177ccd0 // indirect
	github.com/power-devops/perfstat v0.0.0-20260805114148-88456608a4f6 // indirect
	github.com/rafrombrc/go-notify v0.0.0-20130215201805-e3ddb616eea9 // indirect
	github.com/tklauser/go-sysconf v0.4.0 // indirect
	github.com/tklauser/numcpus v0.12.0 // indirect
	github.com/yusufpapurcu/wmi v1.2.4 // indirect
	golang.org/x/exp v0.0.0-20230725093048-515e97ebf090 // indirect
)
