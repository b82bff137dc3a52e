//go:build !torchenv

package gocmd

const torchenvBuild = false
