// Module github.com/bbangert/toml is a small stand-in for the 2013 fork of
// BurntSushi/toml that Heka v0.10.0 imports and that no module proxy serves.
// It implements exactly the API heka uses, on top of BurntSushi/toml.
module github.com/bbangert/toml

go 1.26

require github.com/BurntSushi/toml v1.6.0
