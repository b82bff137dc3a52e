module github.com/prsmed/prsmed-go

go 1.24
