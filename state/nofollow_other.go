//go:build !unix

package state

// NoFollow is 0 where the system has no O_NOFOLLOW.
const NoFollow = 0
