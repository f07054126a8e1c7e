// Package toml implements the part of the github.com/bbangert/toml API that
// Heka v0.10.0 uses, on top of github.com/BurntSushi/toml.
//
// In that API a configuration section stays a generic value (a Primitive,
// which at run time is a map[string]interface{}) until a plugin decodes it into
// its own config struct with PrimitiveDecode or PrimitiveDecodeStrict.
package toml

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strings"

	burnt "github.com/BurntSushi/toml"
)

// Primitive is an undecoded TOML value: a section that is decoded later,
// once the type it belongs to is known. Heka type-asserts it to
// map[string]interface{}, so it must stay a plain interface.
type Primitive interface{}

// MetaData describes a decoded document.
type MetaData struct {
	md burnt.MetaData
}

// IsDefined reports whether the key path exists in the decoded document.
func (m MetaData) IsDefined(key ...string) bool { return m.md.IsDefined(key...) }

// Undecoded returns the keys present in the document that no target field took.
func (m MetaData) Undecoded() []string {
	keys := m.md.Undecoded()
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.String()
	}
	return out
}

// Decode parses the TOML document in data into v. v may be a pointer, or a
// non-pointer map, which is filled in place.
func Decode(data string, v interface{}) (MetaData, error) {
	target, commit, err := decodeTarget(v)
	if err != nil {
		return MetaData{}, err
	}
	md, err := burnt.Decode(data, target)
	if err != nil {
		return MetaData{md: md}, err
	}
	commit()
	return MetaData{md: md}, nil
}

// DecodeFile reads and decodes the TOML file at path into v.
func DecodeFile(path string, v interface{}) (MetaData, error) {
	target, commit, err := decodeTarget(v)
	if err != nil {
		return MetaData{}, err
	}
	md, err := burnt.DecodeFile(path, target)
	if err != nil {
		return MetaData{md: md}, fmt.Errorf("%s: %w", path, err)
	}
	commit()
	return MetaData{md: md}, nil
}

// PrimitiveDecode decodes a value obtained as a Primitive into v.
func PrimitiveDecode(prim Primitive, v interface{}) error {
	_, err := primitiveDecode(prim, v)
	return err
}

// PrimitiveDecodeStrict decodes prim into v like PrimitiveDecode, but fails
// when prim holds a key that v does not use, unless that key (compared
// without regard to case) is in ignoreFields. The error text starts with
// "Configuration contains key [KEY]", which Heka recognises.
func PrimitiveDecodeStrict(prim Primitive, v interface{}, ignoreFields map[string]interface{}) error {
	md, err := primitiveDecode(prim, v)
	if err != nil {
		return err
	}
	ignored := make(map[string]bool, len(ignoreFields))
	for k := range ignoreFields {
		ignored[strings.ToLower(k)] = true
	}
	var unknown []string
	for _, key := range md.md.Undecoded() {
		if len(key) == 0 || ignored[strings.ToLower(key[0])] {
			continue
		}
		unknown = append(unknown, key.String())
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("Configuration contains key [%s] which doesn't exist in struct", unknown[0])
}

// primitiveDecode turns prim back into TOML text and decodes that into v, so
// that every conversion rule of the decoder applies exactly as it would have
// to the original document.
func primitiveDecode(prim Primitive, v interface{}) (MetaData, error) {
	table, err := asTable(prim)
	if err != nil {
		return MetaData{}, err
	}
	var buf bytes.Buffer
	if err := burnt.NewEncoder(&buf).Encode(table); err != nil {
		return MetaData{}, fmt.Errorf("re-encoding configuration section: %w", err)
	}
	return Decode(buf.String(), v)
}

func asTable(prim Primitive) (map[string]interface{}, error) {
	switch t := prim.(type) {
	case nil:
		return map[string]interface{}{}, nil
	case map[string]interface{}:
		return t, nil
	default:
		return nil, fmt.Errorf("toml: cannot decode a %T as a table", prim)
	}
}

// decodeTarget returns what to hand to the decoder for v, and a function to
// run after a successful decode. A non-pointer map (such as Heka's
// pipeline.PluginConfig) is decoded into a fresh map whose entries are then
// copied into v, since maps share their storage.
func decodeTarget(v interface{}) (interface{}, func(), error) {
	rv := reflect.ValueOf(v)
	switch {
	case !rv.IsValid():
		return nil, nil, fmt.Errorf("toml: cannot decode into nil")
	case rv.Kind() == reflect.Ptr:
		if rv.IsNil() {
			return nil, nil, fmt.Errorf("toml: cannot decode into a nil %s", rv.Type())
		}
		return v, func() {}, nil
	case rv.Kind() == reflect.Map:
		if rv.IsNil() {
			return nil, nil, fmt.Errorf("toml: cannot decode into a nil %s", rv.Type())
		}
		fresh := reflect.New(rv.Type())
		fresh.Elem().Set(reflect.MakeMap(rv.Type()))
		commit := func() {
			iter := fresh.Elem().MapRange()
			for iter.Next() {
				rv.SetMapIndex(iter.Key(), iter.Value())
			}
		}
		return fresh.Interface(), commit, nil
	default:
		return nil, nil, fmt.Errorf("toml: cannot decode into a non-pointer %s", rv.Type())
	}
}
