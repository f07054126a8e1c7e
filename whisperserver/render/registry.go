package render

import "sort"

// Param describes a function parameter as graphite-web's /functions lists
// it (graphite.functions.params.Param.toJSON).
type Param struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Required    bool   `json:"required,omitempty"`
	Multiple    bool   `json:"multiple,omitempty"`
	Default     any    `json:"default,omitempty"`
	Options     []any  `json:"options,omitempty"`
	Suggestions []any  `json:"suggestions,omitempty"`
	// Kwarg is the Python argument name when it differs from Name
	// (timeShift's alignDST is listed as alignDst).
	Kwarg string `json:"-"`
	// SigDefault is a Python default that the signature shows although
	// the parameter is listed as required (highest's n=1).
	SigDefault string `json:"-"`
	// AnyValue: Options only suggest; the function handles any value
	// (legendValue's unknown types show "(?)").
	AnyValue bool `json:"-"`
}

// Keyword is the name a keyword argument must use.
func (p Param) Keyword() string {
	if p.Kwarg != "" {
		return p.Kwarg
	}
	return p.Name
}

// Func is one render function: graphite-web's name (an alias has its own
// entry with the same Fn), group, parameters and the Go implementation.
type Func struct {
	Name        string
	Group       string
	Description string
	Params      []Param
	Fn          func(a *args) ([]*Series, error)
	// ListsFn, set instead of Fn, returns a list of series lists
	// (mapSeries).
	ListsFn func(a *args) ([][]*Series, error)
}

var (
	pSeries      = Param{Name: "seriesList", Type: "seriesList", Required: true}
	pSeriesLists = Param{Name: "seriesLists", Type: "seriesList", Required: true, Multiple: true}
)

// maxBuckets bounds what one function may allocate from its arguments
// (summarize buckets, moving windows).
const maxBuckets = 10_000_000

// functions is the registry, built once from the group tables at start;
// it is read-only afterwards.
var functions map[string]*Func

func init() {
	functions = buildRegistry(
		transformFunctions(),
		mathFunctions(),
		windowFunctions(),
		generatorFunctions(),
		eventFunctions(),
		forecastFunctions(),
		timeRangeFunctions(),
		combineFunctions(),
		filterFunctions(),
		sortFunctions(),
		aliasFunctions(),
		calculateFunctions(),
		specialFunctions(),
		graphFunctions(),
		tagFunctions(),
	)
}

func buildRegistry(tables ...[]*Func) map[string]*Func {
	m := map[string]*Func{}
	for _, t := range tables {
		for _, f := range t {
			if _, dup := m[f.Name]; dup {
				panic("render: function registered twice: " + f.Name)
			}
			m[f.Name] = f
		}
	}
	return m
}

// Names lists the implemented functions, sorted.
func Names() []string {
	out := make([]string, 0, len(functions))
	for n := range functions {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Lookup returns a function's description.
func Lookup(name string) (*Func, bool) {
	f, ok := functions[name]
	return f, ok
}
