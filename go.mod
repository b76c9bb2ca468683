module github.com/roostmq/roost

go 1.26
