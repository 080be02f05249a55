"""The subset of the Shopify Admin GraphQL API the simulator serves, declared in SDL.

Every query document the simulator receives (and every bulk query inside ``bulkOperationRunQuery``) is
validated against this schema, so a field, argument, fragment or variable the real Admin API would reject
is rejected here too. Types, fields and arguments carry Shopify's names and input types.

Output-only enums whose values come from stored REST data (``CurrencyCode``, ``OrderDisplayFinancialStatus``
and the like) are declared as scalars of the same name: a selection validates exactly as against the enum,
and a stored resource with a value the simulator does not list still renders. Enums that arguments take
(``BulkOperationType``) or whose values the simulator itself decides (``BulkOperationStatus``) are enums.
Output fields are nullable, so an incomplete stored resource renders with nulls instead of failing.
"""

from __future__ import annotations

from graphql import GraphQLSchema, build_schema

_CONNECTION_ARGUMENTS = "first: Int, after: String, last: Int, before: String, reverse: Boolean = false"
_SEARCH_ARGUMENTS = f"{_CONNECTION_ARGUMENTS}, query: String, savedSearchId: ID"

SDL = f"""
schema {{ query: QueryRoot mutation: Mutation }}

scalar DateTime
scalar Decimal
scalar Money
scalar URL
scalar UnsignedInt64
scalar CurrencyCode
scalar CountryCode
scalar CustomerState
scalar CustomerMarketingOptInLevel
scalar CustomerEmailMarketingState
scalar CustomerSmsMarketingState
scalar CustomerConsentCollectedFrom
scalar OrderCancelReason
scalar OrderDisplayFinancialStatus
scalar OrderDisplayFulfillmentStatus
scalar OrderTransactionKind
scalar OrderTransactionStatus
scalar FulfillmentStatus
scalar FulfillmentDisplayStatus
scalar ProductStatus
scalar DiscountApplicationAllocationMethod
scalar DiscountApplicationTargetSelection
scalar DiscountApplicationTargetType

enum BulkOperationStatus {{ CANCELED CANCELING COMPLETED CREATED EXPIRED FAILED RUNNING }}
enum BulkOperationErrorCode {{ ACCESS_DENIED INTERNAL_SERVER_ERROR TIMEOUT }}
enum BulkOperationType {{ MUTATION QUERY }}
enum BulkOperationUserErrorCode {{
  INVALID OPERATION_IN_PROGRESS LIMIT_REACHED NO_SUCH_FILE INTERNAL_FILE_SERVER_ERROR
}}
enum OrderSortKeys {{ CREATED_AT CUSTOMER_NAME ID NUMBER PROCESSED_AT TOTAL_PRICE UPDATED_AT RELEVANCE }}
enum CustomerSortKeys {{ CREATED_AT ID LOCATION NAME RELEVANCE UPDATED_AT }}
enum ProductSortKeys {{ CREATED_AT ID INVENTORY_TOTAL PRODUCT_TYPE PUBLISHED_AT RELEVANCE TITLE UPDATED_AT VENDOR }}
enum CollectionSortKeys {{ ID RELEVANCE TITLE UPDATED_AT }}

interface Node {{ id: ID! }}

type QueryRoot {{
  bulkOperation(id: ID!): BulkOperation
  currentBulkOperation(type: BulkOperationType = QUERY): BulkOperation
  node(id: ID!): Node
  currentAppInstallation: AppInstallation
  shop: Shop
  order(id: ID!): Order
  customer(id: ID!): Customer
  product(id: ID!): Product
  fulfillment(id: ID!): Fulfillment
  orders({_SEARCH_ARGUMENTS}, sortKey: OrderSortKeys = PROCESSED_AT): OrderConnection
  customers({_SEARCH_ARGUMENTS}, sortKey: CustomerSortKeys = ID): CustomerConnection
  products({_SEARCH_ARGUMENTS}, sortKey: ProductSortKeys = ID): ProductConnection
  collections({_SEARCH_ARGUMENTS}, sortKey: CollectionSortKeys = ID): CollectionConnection
}}

type Mutation {{
  bulkOperationRunQuery(query: String!, groupObjects: Boolean = true): BulkOperationRunQueryPayload
  bulkOperationCancel(id: ID!): BulkOperationCancelPayload
}}

type BulkOperation implements Node {{
  id: ID!
  status: BulkOperationStatus
  errorCode: BulkOperationErrorCode
  createdAt: DateTime
  completedAt: DateTime
  objectCount: UnsignedInt64
  rootObjectCount: UnsignedInt64
  fileSize: UnsignedInt64
  url: URL
  partialDataUrl: URL
  query: String
  type: BulkOperationType
}}
type BulkOperationRunQueryPayload {{ bulkOperation: BulkOperation, userErrors: [BulkOperationUserError!] }}
type BulkOperationUserError {{ field: [String!], message: String, code: BulkOperationUserErrorCode }}
type BulkOperationCancelPayload {{ bulkOperation: BulkOperation, userErrors: [UserError!] }}
type UserError {{ field: [String!], message: String }}

type AppInstallation implements Node {{ id: ID!, accessScopes: [AccessScope!] }}
type AccessScope {{ handle: String, description: String }}
type Shop implements Node {{
  id: ID!
  name: String
  myshopifyDomain: String
  currencyCode: CurrencyCode
  email: String
  ianaTimezone: String
}}

type PageInfo {{ hasNextPage: Boolean, hasPreviousPage: Boolean, startCursor: String, endCursor: String }}
type MoneyV2 {{ amount: Decimal, currencyCode: CurrencyCode }}
type MoneyBag {{ shopMoney: MoneyV2, presentmentMoney: MoneyV2 }}
type PricingPercentageValue {{ percentage: Float }}
union PricingValue = MoneyV2 | PricingPercentageValue
type MailingAddress implements Node {{
  id: ID!
  firstName: String
  lastName: String
  name: String
  company: String
  address1: String
  address2: String
  city: String
  province: String
  provinceCode: String
  country: String
  countryCodeV2: CountryCode
  zip: String
  phone: String
}}

type Order implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64
  name: String
  email: String
  phone: String
  note: String
  createdAt: DateTime
  updatedAt: DateTime
  processedAt: DateTime
  cancelledAt: DateTime
  cancelReason: OrderCancelReason
  closedAt: DateTime
  currencyCode: CurrencyCode
  presentmentCurrencyCode: CurrencyCode
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus
  test: Boolean
  sourceName: String
  checkoutToken: String
  cartToken: String
  subtotalPriceSet: MoneyBag
  totalDiscountsSet: MoneyBag
  totalShippingPriceSet: MoneyBag
  totalTaxSet: MoneyBag
  totalPriceSet: MoneyBag
  currentTotalPriceSet: MoneyBag
  totalRefundedSet: MoneyBag
  discountCodes: [String!]
  tags: [String!]
  customer: Customer
  shippingAddress: MailingAddress
  billingAddress: MailingAddress
  refunds(first: Int): [Refund!]
  fulfillments(first: Int): [Fulfillment!]
  transactions(first: Int, capturable: Boolean, manuallyResolvable: Boolean): [OrderTransaction!]
  lineItems({_CONNECTION_ARGUMENTS}): LineItemConnection
  discountApplications({_CONNECTION_ARGUMENTS}): DiscountApplicationConnection
}}
type OrderConnection {{ edges: [OrderEdge!], nodes: [Order!], pageInfo: PageInfo }}
type OrderEdge {{ cursor: String, node: Order }}

type LineItem implements Node {{
  id: ID!
  name: String
  title: String
  sku: String
  vendor: String
  quantity: Int
  currentQuantity: Int
  variant: ProductVariant
  product: Product
  originalUnitPriceSet: MoneyBag
  discountedTotalSet: MoneyBag
  taxable: Boolean
  requiresShipping: Boolean
}}
type LineItemConnection {{ edges: [LineItemEdge!], nodes: [LineItem!], pageInfo: PageInfo }}
type LineItemEdge {{ cursor: String, node: LineItem }}

interface DiscountApplication {{
  allocationMethod: DiscountApplicationAllocationMethod
  index: Int
  targetSelection: DiscountApplicationTargetSelection
  targetType: DiscountApplicationTargetType
  value: PricingValue
}}
type DiscountCodeApplication implements DiscountApplication {{
  allocationMethod: DiscountApplicationAllocationMethod
  index: Int
  targetSelection: DiscountApplicationTargetSelection
  targetType: DiscountApplicationTargetType
  value: PricingValue
  code: String
}}
type AutomaticDiscountApplication implements DiscountApplication {{
  allocationMethod: DiscountApplicationAllocationMethod
  index: Int
  targetSelection: DiscountApplicationTargetSelection
  targetType: DiscountApplicationTargetType
  value: PricingValue
  title: String
}}
type ManualDiscountApplication implements DiscountApplication {{
  allocationMethod: DiscountApplicationAllocationMethod
  index: Int
  targetSelection: DiscountApplicationTargetSelection
  targetType: DiscountApplicationTargetType
  value: PricingValue
  title: String
  description: String
}}
type ScriptDiscountApplication implements DiscountApplication {{
  allocationMethod: DiscountApplicationAllocationMethod
  index: Int
  targetSelection: DiscountApplicationTargetSelection
  targetType: DiscountApplicationTargetType
  value: PricingValue
  title: String
}}
type DiscountApplicationConnection {{
  edges: [DiscountApplicationEdge!]
  nodes: [DiscountApplication!]
  pageInfo: PageInfo
}}
type DiscountApplicationEdge {{ cursor: String, node: DiscountApplication }}

type Refund implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64
  createdAt: DateTime
  updatedAt: DateTime
  note: String
  totalRefundedSet: MoneyBag
}}
type OrderTransaction implements Node {{
  id: ID!
  kind: OrderTransactionKind
  status: OrderTransactionStatus
  gateway: String
  amountSet: MoneyBag
  processedAt: DateTime
  createdAt: DateTime
  parentTransaction: OrderTransaction
}}

type Fulfillment implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64
  name: String
  status: FulfillmentStatus
  displayStatus: FulfillmentDisplayStatus
  createdAt: DateTime
  updatedAt: DateTime
  order: Order
  location: Location
  service: FulfillmentService
  trackingInfo(first: Int): [FulfillmentTrackingInfo!]
  fulfillmentLineItems({_CONNECTION_ARGUMENTS}): FulfillmentLineItemConnection
}}
type FulfillmentTrackingInfo {{ company: String, number: String, url: URL }}
type FulfillmentService {{ id: ID!, serviceName: String, handle: String }}
type FulfillmentLineItem implements Node {{ id: ID!, quantity: Int, lineItem: LineItem }}
type FulfillmentLineItemConnection {{
  edges: [FulfillmentLineItemEdge!]
  nodes: [FulfillmentLineItem!]
  pageInfo: PageInfo
}}
type FulfillmentLineItemEdge {{ cursor: String, node: FulfillmentLineItem }}
type Location implements Node {{ id: ID!, legacyResourceId: UnsignedInt64, name: String }}

type Customer implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64
  createdAt: DateTime
  updatedAt: DateTime
  firstName: String
  lastName: String
  displayName: String
  note: String
  state: CustomerState
  verifiedEmail: Boolean
  taxExempt: Boolean
  tags: [String!]
  numberOfOrders: UnsignedInt64
  amountSpent: MoneyV2
  lastOrder: Order
  emailMarketingConsent: CustomerEmailMarketingConsentState
  smsMarketingConsent: CustomerSmsMarketingConsentState
  defaultAddress: MailingAddress
}}
type CustomerEmailMarketingConsentState {{
  marketingState: CustomerEmailMarketingState
  marketingOptInLevel: CustomerMarketingOptInLevel
  consentUpdatedAt: DateTime
}}
type CustomerSmsMarketingConsentState {{
  marketingState: CustomerSmsMarketingState
  marketingOptInLevel: CustomerMarketingOptInLevel
  consentUpdatedAt: DateTime
  consentCollectedFrom: CustomerConsentCollectedFrom
}}
type CustomerConnection {{ edges: [CustomerEdge!], nodes: [Customer!], pageInfo: PageInfo }}
type CustomerEdge {{ cursor: String, node: Customer }}

type Product implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64
  title: String
  handle: String
  vendor: String
  productType: String
  status: ProductStatus
  createdAt: DateTime
  updatedAt: DateTime
  publishedAt: DateTime
  tags: [String!]
  variants({_CONNECTION_ARGUMENTS}): ProductVariantConnection
}}
type ProductVariant implements Node {{
  id: ID!
  legacyResourceId: UnsignedInt64
  title: String
  sku: String
  price: Money
  product: Product
  inventoryItem: InventoryItem
}}
type InventoryItem implements Node {{ id: ID!, legacyResourceId: UnsignedInt64, sku: String }}
type ProductConnection {{ edges: [ProductEdge!], nodes: [Product!], pageInfo: PageInfo }}
type ProductEdge {{ cursor: String, node: Product }}
type ProductVariantConnection {{ edges: [ProductVariantEdge!], nodes: [ProductVariant!], pageInfo: PageInfo }}
type ProductVariantEdge {{ cursor: String, node: ProductVariant }}

type Collection implements Node {{ id: ID!, legacyResourceId: UnsignedInt64, title: String, handle: String,
  updatedAt: DateTime }}
type CollectionConnection {{ edges: [CollectionEdge!], nodes: [Collection!], pageInfo: PageInfo }}
type CollectionEdge {{ cursor: String, node: Collection }}
"""

SCHEMA: GraphQLSchema = build_schema(SDL)
