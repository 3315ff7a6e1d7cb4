package plan

import "cutover/state"

const noFollow = state.NoFollow
