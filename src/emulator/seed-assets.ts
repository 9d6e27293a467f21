// The seeded registered model and environment (world.ts EMULATOR_MODEL / EMULATOR_ENVIRONMENT).
// Static: they are part of the emulated workspace, not of the mutable state, so --empty keeps them.
import { EMULATOR_ENVIRONMENT, EMULATOR_MODEL } from "./world.js";
import { SEEDED_AT } from "./routes/common.js";

function splitId(id: string): { name: string; version: string } {
  const colon = id.lastIndexOf(":");
  return { name: id.slice(0, colon), version: id.slice(colon + 1) };
}

export const SEEDED_MODEL = splitId(EMULATOR_MODEL);
export const SEEDED_ENVIRONMENT = splitId(EMULATOR_ENVIRONMENT);

/** Every field the v1 SDK's Model._initialize reads (v1-deploy.md §4.1). */
export function modelPayload(): Record<string, unknown> {
  return {
    id: EMULATOR_MODEL,
    name: SEEDED_MODEL.name,
    version: Number(SEEDED_MODEL.version),
    framework: "Custom",
    frameworkVersion: null,
    url: `aml://asset/${EMULATOR_MODEL.replace(":", "-")}`,
    mimeType: "application/octet-stream",
    unpack: false,
    createdTime: SEEDED_AT,
    modifiedTime: SEEDED_AT,
    description: "Seeded model of the amlauth emulator (no real weights: scoring echoes its input)",
    kvTags: {},
    properties: {},
    experimentName: null,
    runId: null,
    datasets: [],
    createdBy: { userName: "amlauth emulator" },
    parentModelId: null,
    derivedModelIds: [],
    resourceRequirements: null,
    sampleInputData: null,
    sampleOutputData: null,
  };
}

/** The environment definition in the shape the v1 SDK deserialises (v1-deploy.md §2.3). */
export function environmentPayload(): Record<string, unknown> {
  return {
    name: SEEDED_ENVIRONMENT.name,
    version: SEEDED_ENVIRONMENT.version,
    environmentVariables: { EXAMPLE_ENV_VAR: "EXAMPLE_VALUE" },
    python: {
      userManagedDependencies: false,
      interpreterPath: "python",
      condaDependenciesFile: null,
      baseCondaEnvironment: null,
      condaDependencies: {
        name: "project_environment",
        dependencies: ["python=3.8.13", { pip: ["azureml-defaults"] }],
        channels: ["anaconda", "conda-forge"],
      },
    },
    docker: {
      enabled: false,
      baseImage: "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:20230509.v1",
      baseDockerfile: null,
      buildContext: null,
      sharedVolumes: true,
      shmSize: "2g",
      arguments: [],
      baseImageRegistry: { address: null, username: null, password: null, registryIdentity: null },
      platform: { os: "Linux", architecture: "amd64" },
    },
    spark: { repositories: [], packages: [], precachePackages: true },
    databricks: { mavenLibraries: [], pypiLibraries: [], rcranLibraries: [], jarLibraries: [], eggLibraries: [] },
    r: null,
    inferencingStackVersion: null,
    assetId: `azureml://locations/emulatorwest/workspaces/amlauth-ws/environments/${SEEDED_ENVIRONMENT.name}/versions/${SEEDED_ENVIRONMENT.version}`,
  };
}
