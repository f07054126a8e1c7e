package dashboards

import (
	"errors"
	"net/http"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/api"
	"github.com/gorilla/mux"
)

// Register adds GET /api/dashboards (the list) and
// /api/dashboards/{name} (one dashboard) to r.
func (f *Folder) Register(r *mux.Router) {
	r.HandleFunc("/api/dashboards", f.list).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/api/dashboards/{name}", f.get).Methods(http.MethodGet, http.MethodHead)
}

func (f *Folder) list(w http.ResponseWriter, r *http.Request) {
	list, err := f.List()
	body := map[string]any{"dashboards": list, "configured": f.dir != ""}
	if err != nil {
		body["error"] = err.Error()
	}
	api.WriteJSON(w, http.StatusOK, body)
}

func (f *Folder) get(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	d, err := f.Get(name)
	switch {
	case errors.Is(err, ErrNotFound):
		api.WriteError(w, http.StatusNotFound, "no dashboard named "+name)
	case err != nil:
		// The file is there but cannot be used: say why.
		api.WriteError(w, http.StatusUnprocessableEntity, "dashboard "+name+" is broken: "+err.Error())
	default:
		api.WriteJSON(w, http.StatusOK, d)
	}
}
