module github.com/gitopskit/kit/runtime

go 1.26.0
