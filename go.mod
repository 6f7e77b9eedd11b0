module pimc

go 1.26

require (
	github.com/emicklei/dot v1.6.2 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
