package cli

import "context"

func runMan(_ context.Context, a *app, args []string) error { return nil }
