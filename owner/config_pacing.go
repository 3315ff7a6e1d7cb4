package owner

import "cutover/model"

// PacingRules is the compiled [pacing] section over the shipped defaults
// (model.DefaultPacingRules; a [[pacing.rule]] replaces a default of the
// same name).
func (c *Config) PacingRules() (*model.Pacing, error) {
	return model.ParsePacing(c.Pacing)
}

func (c *Config) validatePacing() error {
	p, err := c.PacingRules()
	if err != nil {
		return err
	}
	if c.Mtactl != nil {
		// PowerMTA's native mode renders the same rules in every process
		// that opens mtactl from this config.
		c.Mtactl.Pacing = p
	}
	return nil
}
