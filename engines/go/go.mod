module overlap-go

go 1.19
