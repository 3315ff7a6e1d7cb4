package owner

import "cutover/model"

// PacingRules is the compiled [pacing] section over the shipped defaults
// (model.DefaultPacingRules; a [[pacing.rule]] replaces a default of the
// same name).
func (c *Config) PacingRules() (*model.Pacing, error) {
	return model.ParsePacing(c.Pacing)
}

func (c *Config) validatePacing() error {
	_, err := c.PacingRules()
	return err
}
