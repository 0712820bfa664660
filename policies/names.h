/* SPDX-License-Identifier: Apache-2.0 */
/* names: the label keys and object names tenantguard writes and recognises, in one place. */
#ifndef TG_NAMES_H
#define TG_NAMES_H

#define NAMES_MANAGED_BY_KEY  "app.kubernetes.io/managed-by"
#define NAMES_MANAGED_BY      "tenantguard"
#define NAMES_TENANT_PREFIX   "tenantguard.io/"
#define NAMES_TENANT_LABEL    "tenantguard.io/tenant"
#define NAMES_NETWORK_POLICY  "tenantguard-isolation"
#define NAMES_QUOTA           "tenantguard-quota"
#define NAMES_ROUTES_PREFIX   "tenantguard-routes-"

#endif
