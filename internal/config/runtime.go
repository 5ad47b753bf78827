package config

import (
	"fmt"

	"github.com/agentcore-proxy/agentcore-proxy/agentcore"
	"github.com/agentcore-proxy/agentcore-proxy/internal/runtimeconfig"
)

// Modes of runtime_config (--runtime-config).
const (
	RuntimeConfigAuto     = runtimeconfig.ModeAuto
	RuntimeConfigOff      = runtimeconfig.ModeOff
	RuntimeConfigRequired = runtimeconfig.ModeRequired
)

// Settings the runtime's configuration fills or contradicts, named by
// Resolved.Names like the catalogue's.
const (
	SettingRuntimeConfig   agentcore.Setting = "runtime_config"
	SettingAllowedClients  agentcore.Setting = "allowed_clients"
	SettingAllowedAudience agentcore.Setting = "allowed_audience"
	SettingAllowedScopes   agentcore.Setting = "allowed_scopes"
	SettingCustomClaims    agentcore.Setting = "custom_claims"
)

// RuleSettings maps the runtime authorizer's rule names to the settings
// that configure them locally.
var RuleSettings = map[string]agentcore.Setting{
	runtimeconfig.RuleDiscoveryURL:    agentcore.SettingDiscoveryURL,
	runtimeconfig.RuleAllowedClients:  SettingAllowedClients,
	runtimeconfig.RuleAllowedAudience: SettingAllowedAudience,
	runtimeconfig.RuleAllowedScopes:   SettingAllowedScopes,
	runtimeconfig.RuleCustomClaims:    SettingCustomClaims,
}

func init() {
	settingNames[SettingRuntimeConfig] = [2]string{"", "--runtime-config"}
	settingNames[SettingAllowedClients] = [2]string{"authorizer.allowed_clients", "--allowed-client"}
	settingNames[SettingAllowedAudience] = [2]string{"authorizer.allowed_audience", "--allowed-audience"}
	settingNames[SettingAllowedScopes] = [2]string{"authorizer.allowed_scopes", "--allowed-scope"}
	settingNames[SettingCustomClaims] = [2]string{"authorizer.custom_claims", "authorizer.custom_claims (YAML only)"}
}

// runtimeConfigName names the top-level runtime_config setting of a YAML
// file: the flag, which wins, or the key.
func (c *Config) runtimeConfigName() string {
	return fmt.Sprintf("--runtime-config (or runtime_config in %s)", c.file)
}
