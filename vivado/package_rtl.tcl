# accel board flow: package our RTL accelerator (accel rtl) as an IP with ipx:: into ./ip_repo.
# Sourced by build.tcl when ACCEL(backend) is rtl; uses ACCEL(rtl_top), ACCEL(rtl_files),
# ACCEL(rtl_mem_files) and ACCEL(ip_vlnv) from params.tcl (paths relative to this folder).
#
# The top's ports (the contract with accel/rtl): ap_clk, ap_rst_n (active low),
# s_axis_tdata/tvalid/tready/tlast, m_axis_tdata/tvalid/tready/tlast/tkeep; no AXI-Lite.
# ipx:: infers the AXI4-Stream interfaces s_axis / m_axis from the port names; the clock and reset
# association is set explicitly below.

set pkg_dir [file join $here ip_repo accel_rtl]
file delete -force $pkg_dir rtl_pkg
lassign [split $ACCEL(ip_vlnv) :] vendor library ipname version

# a scratch on-disk project only for ipx::package_project (it packages a project's sources)
create_project -force accel_rtl_pkg [file join $here rtl_pkg] -part $ACCEL(part)
foreach f $ACCEL(rtl_files) { add_files -norecurse [file join $here $f] }
foreach f $ACCEL(rtl_mem_files) {
    add_files -norecurse [file join $here $f]
    set_property file_type {Memory Initialization Files} [get_files [file join $here $f]]
}
set_property top $ACCEL(rtl_top) [current_fileset]
update_compile_order -fileset sources_1

ipx::package_project -root_dir $pkg_dir -vendor $vendor -library $library -taxonomy /UserIP \
    -import_files -set_current true
set core [ipx::current_core]
set_property name $ipname $core
set_property version $version $core
set_property display_name "accel SqueezeNet (RTL)" $core
ipx::infer_bus_interfaces xilinx.com:interface:axis_rtl:1.0 $core
ipx::associate_bus_interfaces -busif s_axis -clock ap_clk $core
ipx::associate_bus_interfaces -busif m_axis -clock ap_clk $core
ipx::associate_bus_interfaces -clock ap_clk -reset ap_rst_n $core
set_property value ACTIVE_LOW [ipx::get_bus_parameters POLARITY \
    -of_objects [ipx::get_bus_interfaces ap_rst_n -of_objects $core]]
ipx::create_xgui_files $core
ipx::update_checksums $core
ipx::check_integrity $core
ipx::save_core $core
close_project
