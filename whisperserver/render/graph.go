package render

func graphFunctions() []*Func {
	return nil
}
