// ARM: the workspace (its properties.discoveryUrl points back at the emulator) and its computes.
// Any api-version is honoured (one model serves them all), but one must be given, as in ARM.
// Also the SDK v1 compute lookup on the discovery `api` host (v1-deploy.md, Corrections).
import type { RequestContext } from "../types.js";
import type { EmulatorRoute, RouteDeps } from "../deps.js";
import { ARM_WORKSPACE_PATH } from "../deps.js";
import { httpErrors } from "../errors.js";
import { requireApiVersion, SEEDED_AT } from "./common.js";

/** Fixed ids so payloads are stable across restarts. */
export const EMULATOR_WORKSPACE_ID = "33333333-3333-3333-3333-333333333333";
const WORKSPACE_PRINCIPAL_ID = "44444444-4444-4444-4444-444444444444";

export function workspacePayload(deps: RouteDeps): Record<string, unknown> {
  const ws = deps.workspace;
  const rgId = `/subscriptions/${ws.subscriptionId}/resourceGroups/${ws.resourceGroup}`;
  const base = deps.baseUrl();
  return {
    id: ws.armId(),
    name: ws.name,
    type: "Microsoft.MachineLearningServices/workspaces",
    location: ws.region,
    tags: {},
    kind: "Default",
    identity: { type: "SystemAssigned", principalId: WORKSPACE_PRINCIPAL_ID, tenantId: ws.tenantId },
    sku: { name: "Basic", tier: "Basic" },
    systemData: systemData(),
    properties: {
      workspaceId: EMULATOR_WORKSPACE_ID,
      friendlyName: ws.name,
      description: "Workspace of the amlauth emulator",
      discoveryUrl: `${base}/discovery`,
      mlFlowTrackingUri: `${base}/mlflow/v1.0${ws.armId()}`,
      provisioningState: "Succeeded",
      keyVault: `${rgId}/providers/Microsoft.KeyVault/vaults/amlauthemulatorkv`,
      applicationInsights: `${rgId}/providers/Microsoft.Insights/components/amlauthemulatorai`,
      storageAccount: `${rgId}/providers/Microsoft.Storage/storageAccounts/amlauthemulatorsa`,
      containerRegistry: null,
      hbiWorkspace: false,
      allowPublicAccessWhenBehindVnet: false,
      publicNetworkAccess: "Enabled",
      privateLinkCount: 0,
      privateEndpointConnections: [],
      imageBuildCompute: null,
      primaryUserAssignedIdentity: null,
      serviceProvisionedResourceGroup: null,
      storageHnsEnabled: false,
      tenantId: ws.tenantId,
      v1LegacyMode: false,
      notebookInfo: null,
    },
  };
}

function systemData(): Record<string, unknown> {
  return {
    createdAt: SEEDED_AT,
    createdBy: "amlauth emulator",
    createdByType: "Application",
    lastModifiedAt: SEEDED_AT,
    lastModifiedBy: "amlauth emulator",
    lastModifiedByType: "Application",
  };
}

export function computePayload(deps: RouteDeps): Record<string, unknown> {
  const ws = deps.workspace;
  return {
    id: ws.computeArmId(ws.aksCompute),
    name: ws.aksCompute,
    type: "Microsoft.MachineLearningServices/workspaces/computes",
    location: ws.region,
    tags: null,
    identity: null,
    sku: null,
    systemData: systemData(),
    properties: {
      computeType: "AKS",
      computeLocation: ws.region,
      provisioningState: "Succeeded",
      description: "Seeded AKS compute of the amlauth emulator",
      createdOn: SEEDED_AT,
      modifiedOn: SEEDED_AT,
      resourceId: `/subscriptions/${ws.subscriptionId}/resourceGroups/${ws.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/amlauth-emulator-aks`,
      provisioningErrors: null,
      isAttachedCompute: false,
      disableLocalAuth: false,
      // The v1 SDK reads every one of these keys (values may be null).
      properties: {
        clusterFqdn: "aks-compute.emulator.invalid",
        systemServices: [],
        agentCount: 3,
        agentVmSize: "Standard_D3_v2",
        clusterPurpose: "DevTest",
        sslConfiguration: { status: "Disabled", cert: null, key: null, cname: null, leafDomainLabel: null, overwriteExistingDomain: false },
        aksNetworkingConfiguration: null,
        loadBalancerType: "PublicIp",
        loadBalancerSubnet: null,
      },
    },
  };
}

export function armRoutes(deps: RouteDeps): EmulatorRoute[] {
  const getCompute = (ctx: RequestContext) => {
    requireApiVersion(ctx);
    deps.workspace.assert(ctx.params);
    if (ctx.params["compute"]?.toLowerCase() !== deps.workspace.aksCompute) {
      throw httpErrors.resourceNotFound(
        `Microsoft.MachineLearningServices/workspaces/${deps.workspace.name}/computes`,
        ctx.params["compute"] ?? "",
        deps.workspace.resourceGroup,
      );
    }
    return { status: 200, body: computePayload(deps) };
  };
  return [
    {
      method: "GET",
      pattern: new RegExp(`^${ARM_WORKSPACE_PATH}$`),
      auth: "arm",
      handle: (ctx) => {
        requireApiVersion(ctx);
        deps.workspace.assert(ctx.params);
        return { status: 200, body: workspacePayload(deps) };
      },
    },
    {
      method: "GET",
      pattern: new RegExp(`^${ARM_WORKSPACE_PATH}/computes$`),
      auth: "arm",
      handle: (ctx) => {
        requireApiVersion(ctx);
        deps.workspace.assert(ctx.params);
        return { status: 200, body: { value: [computePayload(deps)] } };
      },
    },
    { method: "GET", pattern: new RegExp(`^${ARM_WORKSPACE_PATH}/computes/(?<compute>[^/]+)$`), auth: "arm", handle: getCompute },
    {
      method: "GET",
      pattern: new RegExp(`^/rp/workspaces${ARM_WORKSPACE_PATH}/computes/(?<compute>[^/]+)$`),
      auth: "arm",
      handle: getCompute,
    },
  ];
}
