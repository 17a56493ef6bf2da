/**
 * The error catalog: every code the service can answer with, its HTTP status
 * and its texts in English and Brazilian Portuguese.
 *
 * Codes from the upstream banking API are wire facts and keep their exact
 * spelling. Codes prefixed `DTS` are the project's own, for cases the
 * upstream pages leave without a code (see docs/api.md, "Error catalog").
 */
export interface CatalogEntry {
  readonly status: number;
  readonly title: string;
  readonly description: string;
  readonly translation: string;
}

export const ERROR_CATALOG = {
  // --- upstream wire facts -------------------------------------------------
  QIT000001: {
    status: 400,
    title: 'Bad Request',
    description: 'Schema Error',
    translation: 'Erro de Schema',
  },
  OBD000002: {
    status: 404,
    title: 'Not Found',
    description: 'Bank account not found',
    translation: 'Conta não encontrada',
  },
  OBD000088: {
    status: 400,
    title: 'Bad Request',
    description: 'Account blocked or closed can not perform this action',
    translation: 'A conta bloqueada ou fechada não pode executar esta ação',
  },
  OBD000089: {
    status: 400,
    title: 'Bad Request',
    description: 'Hub account can not perform this action',
    translation: 'A conta hub não pode executar esta ação',
  },
  OBD000090: {
    status: 403,
    title: 'No approver permission',
    description: 'Given document number does not belong to an approver for this account',
    translation: 'O documento informado não pertence a um aprovador desta conta',
  },
  OBD000097: {
    status: 400,
    title: 'Error occurred while sending token',
    description: 'An unexpected error occurred while sending token',
    translation: 'Um erro inexperado ocorreu ao tentar enviar token',
  },
  OBD000099: {
    status: 400,
    title: 'Number of token validation attempts exceeded',
    description: 'The maximum number of failed token validation attempts has been reached',
    translation: 'Número máximo de tentativas de validação de token atingida',
  },
  OBD000100: {
    status: 404,
    title: 'Device not found',
    description: 'No device is associated with the provided device_key.',
    translation: 'Nenhum dispositivo está associado à device_key fornecida.',
  },
  GDF000003: {
    status: 400,
    title: 'Bad Request',
    description: 'No API Client Key received',
    translation: 'Nenhuma chave de API do cliente recebida',
  },
  // {detail} / {detalhe}: why, in each language (AUTH_FAILURE_DETAILS).
  GDF000014: {
    status: 401,
    title: 'QI Unauthenticated',
    description: 'Please provide valid credentials as part of the request. Details: {detail}',
    translation: 'Por favor forneça credenciais válidas como parte da request. Detalhes: {detalhe}',
  },
  // {api_client_key}: the header's value when it is a canonical UUID; otherwise the sentence ends after `api_client_key` (ours).
  GDF000018: {
    status: 404,
    title: 'Not Found',
    description: 'No ClientIntegration found for api_client_key: {api_client_key}.',
    translation: 'Nenhuma ClientIntegration encontrada para api_client_key: {api_client_key}.',
  },

  // --- the project's own (ours) -------------------------------------------
  DTS000001: {
    status: 400,
    title: 'Incorrect token',
    description: 'The token informed does not match the token sent',
    translation: 'O token informado não corresponde ao token enviado',
  },
  DTS000002: {
    status: 400,
    title: 'Invalid status',
    description: 'The device status does not allow this action',
    translation: 'O status do dispositivo não permite esta ação',
  },
  DTS000003: {
    status: 409,
    title: 'Device already exists',
    description: 'A device with the provided device_key already exists',
    translation: 'Já existe um dispositivo com a device_key fornecida',
  },
  DTS000004: {
    status: 429,
    title: 'Too many token requests',
    description: 'The limit of token sends for this device or destination has been reached; try again later',
    translation: 'O limite de envios de token para este dispositivo ou destino foi atingido; tente novamente mais tarde',
  },
  DTS000005: {
    status: 400,
    title: 'Token expired',
    description: 'There is no valid token for this device; request a new one',
    translation: 'Não há token válido para este dispositivo; solicite um novo',
  },
  DTS000006: {
    status: 404,
    title: 'Not Found',
    description: 'Route not found',
    translation: 'Rota não encontrada',
  },
  DTS000007: {
    status: 415,
    title: 'Unsupported Media Type',
    description: 'The request body must be application/json',
    translation: 'O corpo da requisição deve ser application/json',
  },
  DTS000008: {
    status: 413,
    title: 'Payload Too Large',
    description: 'The request body is larger than allowed',
    translation: 'O corpo da requisição é maior que o permitido',
  },
  DTS000009: {
    status: 401,
    title: 'Unauthorized',
    description: 'Missing or invalid admin credentials',
    translation: 'Credenciais de administrador ausentes ou inválidas',
  },
  DTS000010: {
    status: 503,
    title: 'Service Unavailable',
    description: 'A service dependency is unavailable; try again later',
    translation: 'Uma dependência do serviço está indisponível; tente novamente mais tarde',
  },
  DTS000011: {
    status: 500,
    title: 'Internal Server Error',
    description: 'An unexpected error occurred',
    translation: 'Ocorreu um erro inesperado',
  },
  DTS000012: {
    status: 403,
    title: 'Forbidden',
    description: 'Missing or invalid webhook signature',
    translation: 'Assinatura do webhook ausente ou inválida',
  },
  DTS000013: {
    status: 429,
    title: 'Too many failed token validations',
    description: 'The limit of failed token validations for this approver or account has been reached; try again later',
    translation: 'O limite de validações de token com falha para este aprovador ou conta foi atingido; tente novamente mais tarde',
  },
  DTS000014: {
    status: 429,
    title: 'Too many devices',
    description: 'The limit of new devices for this account has been reached; try again later',
    translation: 'O limite de novos dispositivos para esta conta foi atingido; tente novamente mais tarde',
  },
  DTS000015: {
    status: 403,
    title: 'Forbidden',
    description: 'Cross-origin request refused',
    translation: 'Requisição de outra origem recusada',
  },
  DTS000016: {
    status: 431,
    title: 'Request Header Fields Too Large',
    description: 'The request line or headers are larger than allowed',
    translation: 'A linha de requisição ou os cabeçalhos são maiores que o permitido',
  },
  DTS000017: {
    status: 408,
    title: 'Request Timeout',
    description: 'The request was not received in time',
    translation: 'A requisição não foi recebida a tempo',
  },
  DTS000018: {
    status: 400,
    title: 'Bad Request',
    description: 'The request is not valid HTTP',
    translation: 'A requisição não é HTTP válido',
  },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** Readable aliases, so code says what happened rather than a number. */
export const ErrorCodes = {
  schema: 'QIT000001',
  accountNotFound: 'OBD000002',
  accountInactive: 'OBD000088',
  hubAccount: 'OBD000089',
  notAnApprover: 'OBD000090',
  sendFailed: 'OBD000097',
  attemptsExceeded: 'OBD000099',
  deviceNotFound: 'OBD000100',
  noClientKey: 'GDF000003',
  unauthenticated: 'GDF000014',
  unknownClient: 'GDF000018',
  incorrectToken: 'DTS000001',
  invalidStatus: 'DTS000002',
  deviceExists: 'DTS000003',
  tooManyRequests: 'DTS000004',
  tokenExpired: 'DTS000005',
  routeNotFound: 'DTS000006',
  unsupportedMediaType: 'DTS000007',
  payloadTooLarge: 'DTS000008',
  adminUnauthorized: 'DTS000009',
  unavailable: 'DTS000010',
  internal: 'DTS000011',
  webhookSignatureInvalid: 'DTS000012',
  guessBudgetExhausted: 'DTS000013',
  tooManyDevices: 'DTS000014',
  crossOrigin: 'DTS000015',
  headersTooLarge: 'DTS000016',
  requestTimeout: 'DTS000017',
  malformedHttp: 'DTS000018',
} as const satisfies Record<string, ErrorCode>;

/** The values a catalog text interpolates: GDF000014's detail in each language, GDF000018's client key. */
export interface CatalogTextParams {
  detail?: { en: string; pt: string };
  api_client_key?: string;
}

/**
 * Why a request's authentication failed (GDF000014's `{detail}`), by the
 * machine-readable reason `extra_fields.reason` carries. The first is the
 * upstream's own text for a token that does not decode or verify; the others
 * are ours, in the same two languages.
 */
export const AUTH_FAILURE_DETAILS = {
  'invalid signature': { en: 'Failed while decoding the authentication token', pt: 'Falha ao decodificar o token de autenticação' },
  'algorithm not allowed': { en: 'Failed while decoding the authentication token', pt: 'Falha ao decodificar o token de autenticação' },
  'AUTHORIZATION header missing': { en: 'The AUTHORIZATION header is missing', pt: 'O cabeçalho AUTHORIZATION está ausente' },
  'client key is not usable': {
    en: "The client integration's registered key cannot be used",
    pt: 'A chave registrada da integração do cliente não pode ser usada',
  },
  'payload_md5 does not match the body': {
    en: "The token's payload_md5 does not match the request body",
    pt: 'O payload_md5 do token não corresponde ao corpo da requisição',
  },
  'method does not match the request': { en: "The token's method does not match the request", pt: 'O method do token não corresponde à requisição' },
  'uri does not match the request': { en: "The token's uri does not match the request path", pt: 'A uri do token não corresponde ao caminho da requisição' },
  'timestamp missing or not ISO-8601': { en: "The token's timestamp is missing or not ISO-8601", pt: 'O timestamp do token está ausente ou não é ISO-8601' },
  'timestamp outside the accepted window': {
    en: "The token's timestamp is outside the accepted window",
    pt: 'O timestamp do token está fora da janela aceita',
  },
  'signature already used': { en: 'The token was already used', pt: 'O token já foi usado' },
} as const satisfies Record<string, { en: string; pt: string }>;

export type AuthFailureReason = keyof typeof AUTH_FAILURE_DETAILS;

/**
 * A catalog text with its placeholders filled. A placeholder without a value
 * is dropped together with the `: ` before it, so the sentence ends cleanly
 * ("… for api_client_key.").
 */
export function fillCatalogText(text: string, params: CatalogTextParams, language: 'en' | 'pt'): string {
  return text.replace(/(: )?\{(detail|detalhe|api_client_key)\}/g, (_match, colon: string | undefined, name: string) => {
    const value = name === 'api_client_key' ? params.api_client_key : params.detail?.[language];
    return value === undefined ? '' : `${colon ?? ''}${value}`;
  });
}
