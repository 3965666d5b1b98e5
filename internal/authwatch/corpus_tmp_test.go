package authwatch

func resolvedOf(ev Event) []Failure { return nil }

var kindModeExtra = map[Kind]string{}
