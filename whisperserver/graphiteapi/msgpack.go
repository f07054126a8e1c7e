package graphiteapi

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"

	ogórek "github.com/kisielk/og-rek"
)

// msgpackEncode appends v in MessagePack: the subset graphite-web's cluster
// answers use (nil, bool, int64, float64, string, lists, string-keyed maps).
func msgpackEncode(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil, ogórek.None:
		return append(b, 0xc0)
	case bool:
		if x {
			return append(b, 0xc3)
		}
		return append(b, 0xc2)
	case int:
		return msgpackInt(b, int64(x))
	case int64:
		return msgpackInt(b, x)
	case float64:
		b = append(b, 0xcb)
		return binary.BigEndian.AppendUint64(b, math.Float64bits(x))
	case string:
		n := len(x)
		switch {
		case n < 32:
			b = append(b, 0xa0|byte(n))
		case n < 1<<8:
			b = append(b, 0xd9, byte(n))
		case n < 1<<16:
			b = append(b, 0xda)
			b = binary.BigEndian.AppendUint16(b, uint16(n))
		default:
			b = append(b, 0xdb)
			b = binary.BigEndian.AppendUint32(b, uint32(n))
		}
		return append(b, x...)
	case []any:
		b = msgpackLen(b, len(x), 0x90, 0xdc, 0xdd)
		for _, e := range x {
			b = msgpackEncode(b, e)
		}
		return b
	case ogórek.Tuple:
		return msgpackEncode(b, []any(x))
	case map[any]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, fmt.Sprint(k))
		}
		sort.Strings(keys)
		b = msgpackLen(b, len(x), 0x80, 0xde, 0xdf)
		for _, k := range keys {
			b = msgpackEncode(b, k)
			b = msgpackEncode(b, x[k])
		}
		return b
	}
	panic(fmt.Sprintf("msgpack: unsupported type %T", v))
}

func msgpackLen(b []byte, n int, fix, b16, b32 byte) []byte {
	switch {
	case n < 16:
		return append(b, fix|byte(n))
	case n < 1<<16:
		b = append(b, b16)
		return binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, b32)
		return binary.BigEndian.AppendUint32(b, uint32(n))
	}
}

func msgpackInt(b []byte, n int64) []byte {
	switch {
	case n >= 0 && n < 128:
		return append(b, byte(n))
	case n < 0 && n >= -32:
		return append(b, byte(n))
	default:
		b = append(b, 0xd3)
		return binary.BigEndian.AppendUint64(b, uint64(n))
	}
}
