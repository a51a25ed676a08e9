module github.com/gitopskit/kit/helmutil

go 1.26.0

replace (
	github.com/gitopskit/kit/artifact => ../artifact
	github.com/gitopskit/kit/git => ../git
	github.com/gitopskit/kit/kustomize => ../kustomize
	github.com/gitopskit/kit/oci => ../oci
	github.com/gitopskit/kit/runtime => ../runtime
	github.com/gitopskit/kit/ssa => ../ssa
)
