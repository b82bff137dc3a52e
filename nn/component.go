package nn

import "strings"

// Component returns the LoadOptions that load one component of a bigger checkpoint into
// the place where a model registered it: the file's tensors named <from>.<rest> fill the
// store entries named <to>.<rest>. File tensors outside from are ignored; store entries
// outside to are neither loaded nor reported missing; inside, the load is strict (a missing,
// extra or wrong-shape tensor of the component is an error), unless the caller sets
// NonStrict or AllowUnexpected on the result.
//
// from is the component's module name in the file ("image_encoder", or "" for a file that
// holds only the component); to is where it lives in the store (the root for the whole
// store). It is Prefix, Rename and Only set together:
//
//	enc, _ := tinyvit.New(root.Sub("backbone"), cfg)
//	rep, err := st.Load("sam.pth", nn.Component("image_encoder", root.Sub("backbone")))
func Component(from string, to Path) LoadOptions {
	o := LoadOptions{}
	if from = strings.TrimSuffix(from, "."); from != "" {
		o.Prefix = from + "."
	}
	if dst := to.String(); dst != "" {
		o.Rename = func(name string) (string, bool) { return to.Name(name), true }
		o.Only = []string{dst + ".*"}
	}
	return o
}

// LoadComponent is Load(path, Component(from, to)): it loads the component a file holds
// under from into the store's entries under to, strictly, and ignores the rest of both.
func (st *Store) LoadComponent(path, from string, to Path) (LoadReport, error) {
	return st.Load(path, Component(from, to))
}
