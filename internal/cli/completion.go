package cli

import "context"

func runCompletion(_ context.Context, a *app, args []string) error { return nil }
func runComplete(_ context.Context, a *app, args []string) error   { return nil }
