// Package ext stands in for Traefik's dynamic-configuration extension module, which Traefik's
// go.mod replaces with a folder of its repository that the module proxy does not serve: its
// open-source build has only these empty extension points.
package ext

// HTTP is a dynamic.HTTP extension.
type HTTP struct{}

// Router is a dynamic.Router extension.
type Router struct{}

// RouterIng is a RouterIng extension for ingress provider annotations.
type RouterIng struct{}

// ToRouter converts RouterIng to a Router.
func (r RouterIng) ToRouter() Router { return Router{} }
