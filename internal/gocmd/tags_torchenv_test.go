//go:build torchenv

package gocmd

const torchenvBuild = true
