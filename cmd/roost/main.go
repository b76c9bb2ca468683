// Command roost is the Roost MQTT broker.
//
//	roost serve [--config FILE] [--listen ADDR]... [--check-config]
//	roost version
//	roost pub -t TOPIC -m MESSAGE [-h HOST] [-p PORT] [-q QOS] ...
//	roost sub -t FILTER... [-C COUNT] [-F json] ...
//	roost req -t TOPIC [-e RESPONSE-TOPIC] -m MESSAGE ...
//
// Exit codes: 0 success (including a clean shutdown on SIGINT or SIGTERM),
// 1 an error while running, 2 bad usage or a bad config file.
package main

import "os"

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
